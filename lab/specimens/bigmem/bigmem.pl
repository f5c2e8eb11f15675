#!/usr/bin/perl
# kcsi lab specimen: a process holding BIGMEM_MIB MiB (default 256) of random bytes in one
# buffer, with marker strings planted at chosen virtual addresses: at page starts, in the
# middle of pages, across page boundaries, at the very start and end of the buffer. It
# checks each marker through /proc/self/mem, writes the list (marker, vaddr, kind) as JSON
# to the path in argv[1], then sleeps.
use strict;
use warnings;
use JSON::PP;

my $out = shift @ARGV or die "usage: bigmem.pl OUT.json\n";
my $mib = $ENV{BIGMEM_MIB} || 256;
my $n = $mib * 1024 * 1024;
my $PAGE = 4096;

my $buf = "\0" x $n;
open(my $r, '<:raw', '/dev/urandom') or die "urandom: $!\n";
my $off = 0;
while ($off < $n) {
    my $want = $n - $off > (1 << 24) ? (1 << 24) : $n - $off;
    my $got = sysread($r, $buf, $want, $off);
    die "urandom: $!\n" unless $got;
    $off += $got;
}
sysread($r, my $seed, 128);
close $r;
my @rnd = unpack('H16' x 16, $seed);

my $base = unpack('Q', pack('p', $buf));
die "buffer length changed\n" unless length($buf) == $n;

# plan: [kind, vaddr]
my @plan;
my $first_page = ($base + $PAGE - 1) & ~($PAGE - 1);
my $last = $base + $n;
my $at = sub { my ($frac) = @_; return ($first_page + int(($n - 2 * $PAGE) * $frac)) & ~($PAGE - 1); };
push @plan, ['buffer_start', $base];
push @plan, ['page_start', $at->(0.10)], ['page_start', $at->(0.35)], ['page_start', $at->(0.60)], ['page_start', $at->(0.85)];
push @plan, ['mid_page', $at->(0.20) + 1234], ['mid_page', $at->(0.50) + 2047], ['mid_page', $at->(0.75) + 3000];
my $idx = 0;
my @markers;
for my $frac (0.15, 0.45, 0.70, 0.95) {
    push @plan, ['crosses_page', 0, $at->($frac)];    # placed below, straddling this boundary
}
push @plan, ['buffer_end', 0];
for my $p (@plan) {
    my $kind = $p->[0];
    my $m = sprintf('KCSIMARK:%02d:%s:%s:END', $idx, $rnd[$idx % 16], $kind);
    my $len = length $m;
    my $va = $p->[1];
    if ($kind eq 'crosses_page') { $va = $p->[2] + $PAGE - int($len / 2) - 3 * $idx % 7; }
    if ($kind eq 'buffer_end')   { $va = $last - $len; }
    my $o = $va - $base;
    die "marker $idx outside buffer\n" if $o < 0 || $o + $len > $n;
    substr($buf, $o, $len) = $m;    # same length: in place
    push @markers, { index => $idx, marker => $m, kind => $kind, length => $len, offset => $o,
                     vaddr => $va, vaddr_hex => sprintf('0x%x', $va),
                     page_vaddr_hex => sprintf('0x%x', $va & ~($PAGE - 1)), page_offset => $va % $PAGE,
                     crosses_page => (($va % $PAGE) + $len > $PAGE ? JSON::PP::true : JSON::PP::false) };
    $idx++;
}
die "buffer moved\n" unless unpack('Q', pack('p', $buf)) == $base;

# check each marker through /proc/self/mem
open(my $mem, '<:raw', '/proc/self/mem') or die "mem: $!\n";
for my $m (@markers) {
    sysseek($mem, $m->{vaddr}, 0) or die "seek: $!\n";
    sysread($mem, my $got, $m->{length});
    die "marker $m->{index} not at its address\n" unless $got eq $m->{marker};
}
close $mem;

my $info = { pid => $$, mib => $mib + 0, bytes => $n, buffer_vaddr => $base, buffer_vaddr_hex => sprintf('0x%x', $base),
             page_size => $PAGE, markers => \@markers, self_checked => JSON::PP::true };
open(my $o, '>', "$out.tmp") or die;
print $o JSON::PP->new->canonical->pretty->encode($info);
close $o;
rename "$out.tmp", $out;
sleep while 1;
