#!/bin/sh
# kcsi lab specimen (benign): an event consumer. Follows the order-event stream of the
# payments API over HTTPS with curl (the API's name resolves to a 127.x address, the CA is the
# company's own), appending events to its log; reconnects a second after the stream ends.
mkdir -p /var/log/consumer
while :; do
    curl -sS -N --cacert /etc/pki/internal/ca.pem --resolve "@@NAME@@:@@PORT@@:@@ADDR@@" \
        -H 'Accept: text/event-stream' -A 'order-consumer/1.8 curl' \
        "https://@@NAME@@:@@PORT@@/v1/events/stream" >> /var/log/consumer/events.log 2>&1
    sleep 1
done
