#!/usr/bin/perl
# TCP/HTTP receiver (host side, 127.x only): the drop server of the exfiltration and
# credential-theft scenes, the C2 of beaconing scenes, the object store of a benign one.
#   sink.pl --listen 127.a.b.c:PORT --summary FILE [--rcvbuf BYTES]
#           [--read all|line|headers|request|BYTES] [--respond none|ok] [--body TEXT]
#           [--content-type TYPE] [--server NAME]
# --read says how much of each connection is read before the peer stops reading it (the
# connection stays open, so what the client sends next waits in its send queue):
#   all      everything (default)        line     the first line
#   headers  one HTTP request's headers  request  one HTTP request with its body
#   BYTES    that many bytes             none     nothing at all
# --respond ok answers every complete HTTP request with 200 and --body (keep-alive), then
# reads on (--read all); --respond none never answers. --rcvbuf sets SO_RCVBUF before
# listen(), so that little fits in the peer's receive buffer once it stops reading.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Digest::SHA;

my $o = lab_args(\@ARGV, { listen => undef, summary => undef, rcvbuf => 0, read => 'all',
                           respond => 'none', body => '{"status":"ok"}', 'content-type' => 'application/json',
                           server => 'nginx' });
die "sink: --listen required\n" unless $o->{listen};
my ($addr, $port) = split /:/, $o->{listen};
my $ls;
if ($o->{rcvbuf}) {
    # SO_RCVBUF must be set before listen() to shape the window of accepted connections
    $ls = IO::Socket::INET->new(Proto => 'tcp') or die "sink: socket: $!\n";
    setsockopt($ls, SOL_SOCKET, SO_RCVBUF, pack('i', $o->{rcvbuf})) or die "sink: SO_RCVBUF: $!\n";
    $ls->sockopt(Socket::SO_REUSEADDR, 1);
    die "sink: refusing non-loopback address '$addr'\n" unless $addr =~ /^127\.\d+\.\d+\.\d+$/;
    bind($ls, Socket::pack_sockaddr_in($port, Socket::inet_aton($addr))) or die "sink: bind $o->{listen}: $!\n";
    listen($ls, 16) or die "sink: listen: $!\n";
} else {
    $ls = lab_listen($o->{listen});
}
my $sel = IO::Select->new($ls);
my %S = (listen => $o->{listen}, read => $o->{read}, respond => $o->{respond}, sessions => [],
         ready => JSON::PP::true);
my %conn;
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

sub stop_reading {
    my ($c) = @_;
    $sel->remove($c->{sock});
    $c->{e}{stopped_reading_at} = lab_ts();
}

# take complete HTTP requests off the connection's buffer
sub http_requests {
    my ($c) = @_;
    while (1) {
        my $h = index($c->{buf}, "\r\n\r\n");
        return if $h < 0;
        my $head = substr($c->{buf}, 0, $h);
        my ($line) = $head =~ /^([^\r\n]*)/;
        my %hd = map { /^([\w-]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head;
        my $len = $hd{'content-length'} // 0;
        my $r = $c->{req} //= { line => $line, user_agent => $hd{'user-agent'}, host => $hd{host},
                                content_type => $hd{'content-type'}, content_length => $len + 0,
                                headers_at => lab_ts() };
        if ($o->{read} eq 'headers') {
            push @{ $c->{e}{requests} }, $r;
            stop_reading($c);
            return;
        }
        return if length($c->{buf}) < $h + 4 + $len;
        my $body = substr($c->{buf}, $h + 4, $len);
        substr($c->{buf}, 0, $h + 4 + $len) = '';
        $r->{body_bytes} = length $body;
        $r->{body_sha256} = Digest::SHA::sha256_hex($body);
        $r->{body_head} = lab_printable($body, 600);
        push @{ $c->{e}{requests} }, $r if @{ $c->{e}{requests} } < 50;
        $c->{e}{request_count}++;
        delete $c->{req};
        if ($o->{respond} eq 'ok') {
            syswrite($c->{sock}, "HTTP/1.1 200 OK\r\nServer: $o->{server}\r\nContent-Type: $o->{'content-type'}\r\n"
                               . "Content-Length: " . length($o->{body}) . "\r\nConnection: keep-alive\r\n\r\n$o->{body}");
        }
        if ($o->{read} eq 'request') { stop_reading($c); return; }
    }
}

while (1) {
    for my $s ($sel->can_read(0.2)) {
        if ($s == $ls) {
            my $c = $ls->accept or next;
            my $e = { peer => $c->peerhost . ':' . $c->peerport, opened_at => lab_ts(), bytes_read => 0,
                      head => '', requests => [] };
            push @{ $S{sessions} }, $e;
            $conn{ fileno $c } = { sock => $c, e => $e, buf => '', sha => Digest::SHA->new(256) };
            if ($o->{read} eq 'none') { $e->{stopped_reading_at} = $e->{opened_at}; }
            else { $sel->add($c); }
            lab_summary($o->{summary}, \%S);
            next;
        }
        my $c = $conn{ fileno $s } or next;
        my $want = 65536;
        $want = $o->{read} - $c->{e}{bytes_read} if $o->{read} =~ /^\d+$/;
        $want = 1 if $o->{read} =~ /^(line|headers)$/;    # byte by byte: read no further than asked
        my $n = sysread($s, my $d, $want);
        if (!$n) {
            $sel->remove($s); delete $conn{ fileno $s }; close $s;
            $c->{e}{closed_at} = lab_ts();
            $c->{e}{sha256} = $c->{sha}->hexdigest;
            lab_summary($o->{summary}, \%S);
            next;
        }
        $c->{e}{bytes_read} += $n;
        $c->{sha}->add($d);
        $c->{e}{sha256} = $c->{sha}->clone->hexdigest;
        $c->{e}{head} = lab_printable($c->{e}{head} . $d, 600) if length($c->{e}{head}) < 600;
        $c->{buf} .= $d if $o->{read} =~ /^(line|headers|request)$/ || $o->{respond} eq 'ok';
        if ($o->{read} eq 'line' && $c->{buf} =~ /^([^\n]*)\n/) {
            $c->{e}{first_line} = $1;
            stop_reading($c);
        } elsif ($o->{read} =~ /^(headers|request)$/ || $o->{respond} eq 'ok') {
            http_requests($c);
        } elsif ($o->{read} =~ /^\d+$/ && $c->{e}{bytes_read} >= $o->{read}) {
            stop_reading($c);
        }
        lab_summary($o->{summary}, \%S);
    }
}
