#!/usr/bin/perl
# Fake mining pool (host side, 127.x only): line-delimited JSON-RPC "stratum".
#   stratum_pool.pl --listen 127.a.b.c:PORT --summary FILE
# Answers mining.subscribe, mining.authorize (records the wallet/worker and password),
# sends mining.set_difficulty + mining.notify jobs, accepts mining.submit.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Time::HiRes qw(time);

my $o = lab_args(\@ARGV, { listen => undef, summary => undef });
my $ls = lab_listen($o->{listen});
my $sel = IO::Select->new($ls);
my %S = (listen => $o->{listen}, sessions => [], ready => JSON::PP::true);
my %conn;
my $json = JSON::PP->new->canonical;
my $jobn = 0;
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

sub send_msg {
    my ($c, $m) = @_;
    my $line = $json->encode($m);
    syswrite($c->{sock}, "$line\n");
    push @{ $c->{sess}{transcript} }, { t => lab_ts(), dir => 'pool->miner', line => $line } if @{ $c->{sess}{transcript} } < 40;
}

sub job {
    my ($c) = @_;
    $jobn++;
    send_msg($c, { id => undef, method => 'mining.notify',
                   params => [sprintf('%08x', $jobn), '0' x 64, 'cb1' . $jobn, 'cb2', [], '20000000',
                              '1d00ffff', sprintf('%08x', int(time)), JSON::PP::true] });
}

while (1) {
    for my $s ($sel->can_read(0.5)) {
        if ($s == $ls) {
            my $cs = $ls->accept or next;
            my $sess = { peer => $cs->peerhost . ':' . $cs->peerport, opened_at => lab_ts(),
                         methods => [], submits => 0, transcript => [] };
            push @{ $S{sessions} }, $sess;
            $conn{ fileno($cs) } = { sock => $cs, buf => '', sess => $sess };
            $sel->add($cs);
            next;
        }
        my $c = $conn{ fileno($s) } or next;
        my $n = sysread($s, my $d, 65536);
        if (!$n) { $sel->remove($s); delete $conn{ fileno($s) }; close $s; $c->{sess}{closed_at} = lab_ts(); next; }
        $c->{buf} .= $d;
        while ($c->{buf} =~ s/^([^\n]*)\n//) {
            my $line = $1;
            my $sess = $c->{sess};
            push @{ $sess->{transcript} }, { t => lab_ts(), dir => 'miner->pool', line => $line } if @{ $sess->{transcript} } < 40;
            my $m = eval { $json->decode($line) } or next;
            my $meth = $m->{method} // '';
            push @{ $sess->{methods} }, $meth unless grep { $_ eq $meth } @{ $sess->{methods} };
            if ($meth eq 'mining.subscribe') {
                $sess->{agent} = $m->{params}[0];
                send_msg($c, { id => $m->{id}, error => undef,
                               result => [[['mining.set_difficulty', 'd1'], ['mining.notify', 'n1']], 'f000aa01', 4] });
            } elsif ($meth eq 'mining.authorize') {
                ($sess->{worker}, $sess->{password}) = @{ $m->{params} };
                $sess->{authorized} = JSON::PP::true;
                send_msg($c, { id => $m->{id}, error => undef, result => JSON::PP::true });
                send_msg($c, { id => undef, method => 'mining.set_difficulty', params => [8] });
                job($c);
            } elsif ($meth eq 'mining.submit') {
                $sess->{submits}++;
                send_msg($c, { id => $m->{id}, error => undef, result => JSON::PP::true });
                job($c) if $sess->{submits} % 3 == 0;
            } else {
                send_msg($c, { id => $m->{id}, error => [20, 'unknown method', undef], result => undef });
            }
        }
        lab_summary($o->{summary}, \%S);
    }
}
