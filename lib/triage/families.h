/* kcsi — the rule families of the triage engine, in the order they run:
 * each line declares az_family_NAME(az *a) (in its rules_*.c file) and
 * registers it for a stage (see analyze_int.h).  The order within a stage is
 * the order of the findings before the report sorts them, and decides which
 * source an IOC seen twice keeps: add new families at the end of their stage.
 * Included with AZ_FAMILY defined; no include guard on purpose. */
AZ_FAMILY(process, AZ_BEFORE_MEMORY)        /* rules_process.c: masquerade, fileless, environment */
AZ_FAMILY(network, AZ_BEFORE_MEMORY)        /* rules_net.c: sockets, ports, remote shells, raw sockets */
AZ_FAMILY(descriptors, AZ_BEFORE_MEMORY)    /* rules_files.c: files deleted while held open */
AZ_FAMILY(memory_areas, AZ_BEFORE_MEMORY)   /* rules_memory.c: executable anonymous memory, patched code */
AZ_FAMILY(container, AZ_BEFORE_MEMORY)      /* rules_container.c: namespaces, privileges, capabilities */
AZ_FAMILY(queues, AZ_BEFORE_MEMORY)         /* rules_strings.c: the bytes queued on sockets */
AZ_FAMILY(ghost_files, AZ_AFTER_MEMORY)     /* rules_files.c: deleted files the checkpoint kept */
AZ_FAMILY(memfds, AZ_AFTER_MEMORY)          /* rules_files.c: memfd contents */
AZ_FAMILY(rootfs_diff, AZ_AFTER_MEMORY)     /* rules_files.c: dropped files, persistence, staged data */
AZ_FAMILY(strings, AZ_SUMMARY)              /* rules_strings.c: protocols, commands and secrets in the text */
AZ_FAMILY(dns, AZ_SUMMARY)                  /* rules_dns.c: DNS tunnels and exfiltration in query names */
AZ_FAMILY(exfil, AZ_SUMMARY)                /* rules_exfil.c: data leaving: queues, HTTP requests, transfer tools */
