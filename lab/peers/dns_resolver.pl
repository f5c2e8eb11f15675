#!/usr/bin/perl
# Fake attacker-run DNS resolver (host side, 127.x only) for the DNS tunnelling scenes.
#   dns_resolver.pl --listen 127.a.b.c:53 --proto udp|tcp --zone Z --encoding hex|base32|base64url
#                   [--meta-labels N] [--delay SECONDS] --summary FILE
# Answers every query (A: 127.0.0.1, TXT: "ok", others: no answer), TCP queries after
# --delay seconds (length-prefixed messages, connections kept open). Names under Z are
# taken apart: the last N labels before Z are metadata (the very last is the chunk's
# sequence number, decimal), the labels before them are data in the given encoding; the
# peer reassembles the chunks in sequence order and records what it decoded so far.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time);

my $o = lab_args(\@ARGV, { listen => undef, proto => 'udp', zone => undef, encoding => 'hex',
                           'meta-labels' => 1, delay => 0, summary => undef });
die "dns_resolver: --listen and --zone required\n" unless $o->{listen} && $o->{zone};
my $zone = lc $o->{zone};
my %S = (listen => $o->{listen}, proto => $o->{proto}, zone => $zone, encoding => $o->{encoding},
         queries => 0, in_zone => 0, qtypes => {}, clients => [], first_names => [], chunks => 0,
         decoded_bytes => 0, decoded_sha256 => undef, decoded_head => '');
my (%chunk, %client_seen);
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };

my %QT = (1 => 'A', 16 => 'TXT', 28 => 'AAAA', 5 => 'CNAME', 15 => 'MX', 10 => 'NULL');

sub decode_data {
    my ($enc, $txt) = @_;
    if ($enc eq 'hex') {
        $txt =~ s/[^0-9a-fA-F]//g;
        $txt = substr($txt, 0, length($txt) & ~1);
        return pack('H*', $txt);
    }
    if ($enc eq 'base64url') {
        $txt =~ tr{-_}{+/};
        $txt .= '=' x ((4 - length($txt) % 4) % 4);
        return decode_base64($txt);
    }
    # base32 (RFC 4648 alphabet, any case, no padding)
    my $bits = join '', map {
        my $v = index('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', uc $_);
        $v < 0 ? '' : sprintf('%05b', $v);
    } split //, $txt;
    $bits = substr($bits, 0, length($bits) - length($bits) % 8);
    return pack('B*', $bits);
}

sub reassemble {
    my $data = join '', map { $chunk{$_} } sort { $a <=> $b } keys %chunk;
    my $bin = decode_data($o->{encoding}, $data);
    $S{chunks} = scalar keys %chunk;
    $S{decoded_bytes} = length $bin;
    $S{decoded_sha256} = sha256_hex($bin);
    $S{decoded_head} = lab_printable($bin, 400);
}

# parse one query message; returns the answer message (or undef)
sub handle_query {
    my ($msg, $client) = @_;
    return undef if length($msg) < 17;
    my ($id, $flags, $qd) = unpack('n n n', $msg);
    return undef if $qd < 1 || ($flags & 0x8000);
    my ($pos, @labels) = (12);
    while ($pos < length $msg) {
        my $n = ord substr($msg, $pos, 1);
        $pos++;
        last if $n == 0;
        return undef if $n > 63 || $pos + $n > length $msg;
        push @labels, substr($msg, $pos, $n);
        $pos += $n;
    }
    return undef if $pos + 4 > length $msg;
    my ($qtype, $qclass) = unpack('n n', substr($msg, $pos, 4));
    my $question = substr($msg, 12, $pos + 4 - 12);
    my $name = join '.', @labels;
    $S{queries}++;
    $S{qtypes}{ $QT{$qtype} // $qtype }++;
    push @{ $S{clients} }, $client unless $client_seen{$client}++;
    push @{ $S{first_names} }, $name if @{ $S{first_names} } < 12;
    $S{last_name} = $name;
    $S{last_at} = lab_ts();
    my $lname = lc $name;
    if ($lname =~ /^(.+)\.\Q$zone\E$/) {
        my @l = split /\./, $1;
        my $meta = $o->{'meta-labels'};
        if (@l > $meta) {
            my $seq = $l[-1];
            my @data = @l[0 .. $#l - $meta];
            # base64url is case-sensitive: use the name as sent
            my @orig = @labels[0 .. $#data];
            if ($seq =~ /^\d+$/) {
                $S{in_zone}++;
                $chunk{$seq} = join '', ($o->{encoding} eq 'base64url' ? @orig : @data);
                reassemble();
            }
        }
    }
    my $ans = '';
    if ($qtype == 1) {
        $ans = pack('n n n N n', 0xC00C, 1, 1, 0, 4) . pack('C4', 127, 0, 0, 1);
    } elsif ($qtype == 16) {
        $ans = pack('n n n N n C', 0xC00C, 16, 1, 0, 3, 2) . 'ok';
    }
    return pack('n n n n n n', $id, 0x8180 | ($flags & 0x0100), 1, $ans ? 1 : 0, 0, 0) . $question . $ans;
}

my $sel = IO::Select->new;
my ($us, $ls);
if ($o->{proto} eq 'udp') {
    $us = lab_udp($o->{listen});
    $sel->add($us);
} else {
    $ls = lab_listen($o->{listen});
    $sel->add($ls);
}
$S{ready} = JSON::PP::true;
lab_summary($o->{summary}, \%S);

my (%buf, @due);    # tcp: per-connection input; answers waiting for their time
my $dirty = 0;
while (1) {
    my $wait = 0.2;
    for my $s ($sel->can_read($wait)) {
        if ($us && $s == $us) {
            my $from = recv($us, my $d, 65535, 0);
            next unless defined $from;
            my ($port, $ip) = Socket::sockaddr_in($from);
            my $r = handle_query($d, Socket::inet_ntoa($ip) . ":$port");
            send($us, $r, 0, $from) if defined $r;
            $dirty = 1;
            next;
        }
        if ($ls && $s == $ls) {
            my $c = $ls->accept or next;
            $buf{ fileno $c } = '';
            $sel->add($c);
            next;
        }
        my $n = sysread($s, my $d, 65536);
        if (!$n) { $sel->remove($s); delete $buf{ fileno $s }; close $s; next; }
        $buf{ fileno $s } .= $d;
        while (length($buf{ fileno $s }) >= 2) {
            my $len = unpack('n', $buf{ fileno $s });
            last if length($buf{ fileno $s }) < 2 + $len;
            my $msg = substr($buf{ fileno $s }, 2, $len);
            substr($buf{ fileno $s }, 0, 2 + $len) = '';
            my $r = handle_query($msg, $s->peerhost . ':' . $s->peerport);
            push @due, [time + $o->{delay}, $s, $r] if defined $r;
            $dirty = 1;
        }
    }
    my $now = time;
    while (@due && $due[0][0] <= $now) {
        my ($t, $s, $r) = @{ shift @due };
        syswrite($s, pack('n', length $r) . $r) if $s->opened;
    }
    if ($dirty) { lab_summary($o->{summary}, \%S); $dirty = 0; }
}
