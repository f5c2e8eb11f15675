#!/usr/bin/perl
# kcsi lab specimen (benign): a health-check client. Keeps one HTTP/1.1 keep-alive
# connection to the web server and fetches / and /healthz every second.
use strict;
use warnings;
use IO::Socket::INET;

my ($addr, $port) = split /:/, ($ENV{TARGET} // '127.0.0.1:8080');
open(my $log, '>>', '/var/log/webapp/client.log') or die;
$log->autoflush(1);
while (1) {
    my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Timeout => 3);
    if (!$s) { sleep 1; next; }
    my $ok = 1;
    while ($ok) {
        for my $path ('/', '/healthz') {
            print $s "GET $path HTTP/1.1\r\nHost: $addr\r\nUser-Agent: healthcheck/1.0\r\n\r\n";
            my $head = '';
            while ($head !~ /\r\n\r\n/) { my $n = sysread($s, my $d, 1); if (!$n) { $ok = 0; last; } $head .= $d; }
            last unless $ok;
            my ($len) = $head =~ /Content-Length: (\d+)/i;
            my $body = '';
            while (length($body) < ($len // 0)) { my $n = sysread($s, my $d, $len - length $body); if (!$n) { $ok = 0; last; } $body .= $d; }
            my ($code) = $head =~ /^HTTP\/1\.\d (\d+)/;
            print $log time, " $path ", ($code // '?'), " ", length($body), "\n";
        }
        sleep 1;
    }
    close $s;
}
