#!/bin/sh
# kcsi lab specimen (benign): container entrypoint — web server plus health-check client.
mkdir -p /var/log/webapp
perl /srv/app/httpd.pl &
sleep 1
perl /srv/app/client.pl &
wait
