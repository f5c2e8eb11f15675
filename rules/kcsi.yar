/*
 * kcsi's own YARA rules: behaviour traits of the attacks kcsi meets in
 * containers.  Each rule has meta: description, severity (info, low, medium,
 * high, critical) and mitre (ATT&CK technique ids).  kcsi runs them over
 * process memory, area by area, and over recovered and rootfs-diff files.
 */

rule irc_bot_protocol
{
    meta:
        description = "IRC bot: registration and channel commands together with remote-command handling"
        severity = "high"
        mitre = "T1071, T1059"
    strings:
        $nick = "NICK "
        $user = /USER [!-~]{1,30} [!-~]{1,30} [!-~]{1,30} :/
        $join = "JOIN #"
        $cmd1 = "!exec "
        $cmd2 = "!shell "
        $cmd3 = "!cmd "
        $cmd4 = "!download "
        $cmd5 = "!ddos "
        $cmd6 = "!udp "
        $cmd7 = "!EXEC "
    condition:
        ($nick and $user and $join) and any of ($cmd*)
}

rule reverse_shell_command
{
    meta:
        description = "Reverse shell one-liner (shell redirected to a TCP connection)"
        severity = "high"
        mitre = "T1059.004, T1071"
    strings:
        $bash = /(ba|da|z)?sh -i\s*[<>&]{1,3}\s*\/dev\/(tcp|udp)\/[^\/\s]{1,64}\/[0-9]{1,5}/
        $devtcp = /[0-9]?>&\s*\/dev\/tcp\/[^\/\s]{1,64}\/[0-9]{1,5}/
        $nc_e = /\b(nc|ncat|netcat)\s+(-[a-z]*\s+)*-e\s+\/bin\/(ba)?sh/
        $mkfifo = /mkfifo\s+\S+;\s*(cat|nc)\b[^|]{0,80}\|\s*\/bin\/(ba)?sh\s+-i/
        $fifo = /mkfifo\s+\S+;\s*(\/bin\/)?(ba|da)?sh\s+-i\s*<\s*\S+/
        $socat = /socat\s+(tcp|TCP)[^ ]{0,80}\s+exec:['"]?(\/bin\/)?(ba)?sh/
        $py = /socket\.socket\([^)]{0,40}\)[^\n]{0,200}os\.dup2\([^)]{0,20}\)[^\n]{0,200}(pty\.spawn|subprocess\.call)\(/
        $perl = /socket\(S,PF_INET,SOCK_STREAM[^\n]{0,200}open\(STDIN,\s*"?>&S/
    condition:
        any of them
}

rule cryptominer_stratum
{
    meta:
        description = "Cryptocurrency miner: stratum pool login or miner configuration"
        severity = "high"
        mitre = "T1496"
    strings:
        $s1 = "\"method\":\"mining.subscribe\""
        $s2 = "\"method\": \"mining.subscribe\""
        $s3 = "\"method\":\"mining.authorize\""
        $s4 = "\"method\": \"mining.authorize\""
        $s5 = "\"method\":\"login\"" 
        $url = /stratum\+(tcp|ssl|tls):\/\/[a-zA-Z0-9.\-]{1,100}:[0-9]{2,5}/
        $cfg1 = "\"donate-level\""
        $cfg2 = "\"randomx\""
        $agent = /XMRig\/[0-9]+\.[0-9]+/ nocase
    condition:
        any of ($s*) or $url or (2 of ($cfg*, $agent))
}

rule php_webshell
{
    meta:
        description = "Web shell: request data passed to code or command execution"
        severity = "critical"
        mitre = "T1505.003"
    strings:
        $php = "<?php"
        $e1 = /(eval|assert|system|passthru|shell_exec|exec|popen|proc_open)\s*\(\s*(base64_decode\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\[/
        $e2 = /preg_replace\s*\(\s*['"][^'"]{0,40}\/e['"]/
    condition:
        $php and any of ($e*)
}

rule jsp_or_aspx_webshell
{
    meta:
        description = "Web shell (JSP): request parameter passed to Runtime.exec"
        severity = "critical"
        mitre = "T1505.003"
    strings:
        $j = /Runtime\.getRuntime\(\)\.exec\(\s*request\.getParameter\(/
    condition:
        $j
}

rule linux_download_and_execute
{
    meta:
        description = "Download-and-execute command (curl/wget piped to a shell or saved, made executable and run)"
        severity = "high"
        mitre = "T1105, T1059.004"
    strings:
        $pipe = /\b(curl|wget)\b[^|;\n]{1,200}\|\s*(ba|da)?sh\b/
        $chmod = /\b(curl|wget)\b[^;\n]{1,200};\s*chmod\s+(\+x|[0-7]?7[0-7][0-7])\s+\S+;\s*\.?\/?\S+/
    condition:
        any of them
}

rule linux_persistence_or_cleanup
{
    meta:
        description = "Shell history wiping, log tampering or cron persistence commands"
        severity = "medium"
        mitre = "T1070.003, T1053.003"
    strings:
        $h1 = "unset HISTFILE"
        $h2 = "export HISTFILE=/dev/null"
        $h3 = "history -c && "
        $l1 = /echo\s*>\s*\/var\/log\/(wtmp|btmp|lastlog|auth\.log|secure)/
        $c1 = /\(crontab -l[^)]{0,40};\s*echo[^)]{0,200}\)\s*\|\s*crontab -/
    condition:
        any of them
}

rule elf_packed_upx
{
    meta:
        description = "UPX-packed ELF program"
        severity = "medium"
        mitre = "T1027.002"
    strings:
        $elf = { 7F 45 4C 46 }
        $upx1 = "UPX!"
        $upx2 = "$Info: This file is packed with the UPX executable packer"
    condition:
        $elf at 0 and any of ($upx*)
}
