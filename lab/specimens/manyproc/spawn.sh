#!/bin/sh
# kcsi lab specimen: spawns a process tree of exactly N processes (N = $1, default 200),
# this shell included: group shells of up to 10 processes each (the group shell and its
# `sleep` children, each sleep with its own duration so that cmdlines differ).
n=${1:-200}
left=$((n - 1))
g=0
while [ "$left" -gt 0 ]; do
    if [ "$left" -eq 1 ]; then
        sleep $((300000 + g)) &
        left=0
    else
        k=$((left >= 10 ? 9 : left - 1))
        sh -c 'i=0; while [ $i -lt '"$k"' ]; do sleep $((200000 + '"$g"' * 100 + i)) & i=$((i + 1)); done; wait' &
        left=$((left - 1 - k))
    fi
    g=$((g + 1))
done
wait
