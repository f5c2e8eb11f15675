#!/usr/bin/perl
# Benign TLS server (host side, 127.x only) for the tlsclient control: HTTPS with the given
# certificate and key; GET /v1/events/stream answers with a server-sent event stream (one
# event a second, the connection stays open), other paths with a small JSON document.
#   tls_events.pl --listen 127.a.b.c:443 --cert FILE --key FILE --summary FILE
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use IO::Socket::SSL;

my $o = lab_args(\@ARGV, { listen => undef, cert => undef, key => undef, summary => undef });
die "tls_events: --listen, --cert and --key required\n" unless $o->{listen} && $o->{cert} && $o->{key};
my $ls = lab_listen($o->{listen});
my $sel = IO::Select->new($ls);
my %S = (listen => $o->{listen}, handshakes => 0, requests => [], streams => 0, events_sent => 0,
         ready => JSON::PP::true);
my (%conn, $seq);
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
$SIG{PIPE} = 'IGNORE';
lab_summary($o->{summary}, \%S);

my $last = 0;
while (1) {
    for my $s ($sel->can_read(0.2)) {
        if ($s == $ls) {
            my $c = $ls->accept or next;
            IO::Socket::SSL->start_SSL($c, SSL_server => 1, SSL_cert_file => $o->{cert},
                                       SSL_key_file => $o->{key}, Timeout => 5) or do { close $c; next; };
            $S{handshakes}++;
            $conn{ fileno $c } = { sock => $c, buf => '', stream => 0 };
            $sel->add($c);
            next;
        }
        my $c = $conn{ fileno $s } or next;
        my $n = sysread($s, my $d, 16384);
        if (!$n) { $sel->remove($s); delete $conn{ fileno $s }; close $s; next; }
        $c->{buf} .= $d;
        while ($c->{buf} =~ s/^(GET|POST) (\S+) HTTP\/1\.[01]\r\n(.*?)\r\n\r\n//s) {
            my ($path, $hdr) = ($2, $3);
            my ($ua) = $hdr =~ /^User-Agent:\s*(.*)$/mi;
            push @{ $S{requests} }, { path => $path, user_agent => $ua, at => lab_ts() } if @{ $S{requests} } < 20;
            if ($path =~ m{/stream}) {
                $c->{stream} = 1;
                $S{streams}++;
                syswrite($s, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
            } else {
                my $b = qq({"status":"ok","time":"@{[lab_ts()]}"}\n);
                syswrite($s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           . length($b) . "\r\n\r\n$b");
            }
        }
    }
    if (time - $last >= 1) {
        $last = time;
        for my $c (grep { $_->{stream} } values %conn) {
            $seq++;
            syswrite($c->{sock}, "id: $seq\nevent: order.updated\ndata: {\"order\":" . (100000 + $seq)
                                . ",\"state\":\"shipped\"}\n\n") and $S{events_sent}++;
        }
        lab_summary($o->{summary}, \%S);
    }
}
