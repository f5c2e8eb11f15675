/* kcsi — the rule families of the triage engine, in the order they run:
 * each line declares az_family_NAME(az *a) (in its rules_*.c file) and
 * registers it for a stage (see analyze_int.h).  The order within a stage is
 * the order of the findings before the report sorts them, and decides which
 * source an IOC seen twice keeps: add new families at the end of their stage.
 * Included with AZ_FAMILY defined; no include guard on purpose. */
AZ_FAMILY(process, AZ_BEFORE_MEMORY)        /* rules_process.c (+ rules_masq.c): masquerade, fileless, preloads, driven shells, environment */
AZ_FAMILY(network, AZ_BEFORE_MEMORY)        /* rules_net.c: sockets, ports, remote shells, raw sockets */
AZ_FAMILY(descriptors, AZ_BEFORE_MEMORY)    /* rules_files.c: files deleted while held open */
AZ_FAMILY(memory_areas, AZ_BEFORE_MEMORY)   /* rules_memory.c: executable anonymous memory, patched code */
AZ_FAMILY(container, AZ_BEFORE_MEMORY)      /* rules_container.c: namespaces, privileges, capabilities */
AZ_FAMILY(ghost_files, AZ_AFTER_MEMORY)     /* rules_files.c: times of deleted files the checkpoint kept */
AZ_FAMILY(rootfs_diff, AZ_AFTER_MEMORY)     /* rules_files.c: times of the rootfs diff's entries */
AZ_FAMILY(content, AZ_AFTER_MEMORY)         /* rules_content.c: queues, ghost, memfd, rootfs, /dev/shm, tmpfs contents */
AZ_FAMILY(strings, AZ_SUMMARY)              /* rules_strings.c: protocols and commands in the text */
AZ_FAMILY(content_summary, AZ_SUMMARY)      /* rules_content.c: staged data in memory and send queues */
AZ_FAMILY(credentials, AZ_SUMMARY)          /* rules_creds.c: secrets, credential access (frees the gatherings) */
AZ_FAMILY(dns, AZ_SUMMARY)                  /* rules_dns.c: DNS tunnels and exfiltration in query names */
AZ_FAMILY(exfil, AZ_SUMMARY)                /* rules_exfil.c: data leaving: queues, HTTP requests, transfer tools (after credentials) */
AZ_FAMILY(history, AZ_SUMMARY)              /* rules_history.c: commands typed into bash (its history in memory) */
