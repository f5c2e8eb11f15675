#!/usr/bin/perl
# Fake C2 for the memfd scenario (host side, 127.x only).
#   memfd_c2.pl --http 127.a.b.c:PORT --payload FILE --url /path --beacon 127.a.b.c:PORT --summary FILE
# Serves FILE over HTTP/1.0 at --url (404 elsewhere) and accepts beacon connections,
# recording the beacon lines; beacon connections are kept open.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Digest::SHA qw(sha256_hex);

my $o = lab_args(\@ARGV, { http => undef, payload => undef, url => '/update', beacon => undef,
                           summary => undef });
open(my $pf, '<:raw', $o->{payload}) or die "memfd_c2: $o->{payload}: $!\n";
my $payload = do { local $/; <$pf> };
close $pf;
my $hs = lab_listen($o->{http});
my $bs = lab_listen($o->{beacon});
my $sel = IO::Select->new($hs, $bs);
my %S = (http => $o->{http}, beacon => $o->{beacon}, url => $o->{url},
         payload_sha256 => sha256_hex($payload), payload_bytes => length($payload),
         http_requests => [], beacons => [], ready => JSON::PP::true);
my %conn;
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

while (1) {
    for my $s ($sel->can_read(0.5)) {
        if ($s == $hs || $s == $bs) {
            my $c = $s->accept or next;
            my $kind = $s == $hs ? 'http' : 'beacon';
            my $e = { peer => $c->peerhost . ':' . $c->peerport, at => lab_ts() };
            push @{ $kind eq 'http' ? $S{http_requests} : $S{beacons} }, $e;
            $conn{ fileno($c) } = { sock => $c, kind => $kind, buf => '', e => $e };
            $sel->add($c);
            next;
        }
        my $c = $conn{ fileno($s) } or next;
        my $n = sysread($s, my $d, 65536);
        if (!$n) {
            $sel->remove($s); delete $conn{ fileno($s) }; close $s;
            $c->{e}{closed_at} = lab_ts();
            lab_summary($o->{summary}, \%S);
            next;
        }
        $c->{buf} .= $d;
        if ($c->{kind} eq 'http' && $c->{buf} =~ /\r\n\r\n/) {
            my ($req) = $c->{buf} =~ /^(\S+ \S+)/;
            my ($ua) = $c->{buf} =~ /^User-Agent:\s*(.*?)\r$/mi;
            $c->{e}{request} = $req; $c->{e}{user_agent} = $ua;
            my ($path) = ($req // '') =~ / (\S+)$/;
            if (($path // '') eq $o->{url}) {
                syswrite($s, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           . "Content-Length: " . length($payload) . "\r\n\r\n");
                my $off = 0;
                while ($off < length $payload) {
                    my $w = syswrite($s, $payload, 65536, $off);
                    last unless $w;
                    $off += $w;
                }
                $c->{e}{status} = 200; $c->{e}{bytes} = $off;
            } else {
                syswrite($s, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                $c->{e}{status} = 404;
            }
            $sel->remove($s); delete $conn{ fileno($s) }; close $s;
        } elsif ($c->{kind} eq 'beacon') {
            while ($c->{buf} =~ s/^([^\n]*)\n//) { push @{ $c->{e}{lines} }, $1; }
        }
        lab_summary($o->{summary}, \%S);
    }
}
