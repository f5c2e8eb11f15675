#!/usr/bin/perl
# Fake attacker for shells (host side, 127.x only).
#   shell_peer.pl --listen 127.a.b.c:PORT  --summary FILE --cmds 'id|hostname'   (reverse shell catcher)
#   shell_peer.pl --connect 127.a.b.c:PORT --summary FILE --cmds 'id'            (bind shell client)
# Sends the commands one at a time (the next after 0.8 s without output), records what
# comes back, then keeps the connection open until it is stopped.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Time::HiRes qw(time);

my $o = lab_args(\@ARGV, { listen => undef, connect => undef, summary => undef, cmds => 'id',
                           'connect-timeout' => 30 });
my %S = (mode => ($o->{listen} ? 'listen' : 'connect'), address => ($o->{listen} // $o->{connect}),
         sessions => []);
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };

my ($ls, $cs);
my $sel = IO::Select->new;
if ($o->{listen}) {
    $ls = lab_listen($o->{listen});
    $sel->add($ls);
    $S{ready} = JSON::PP::true;
    lab_summary($o->{summary}, \%S);
} else {
    die "shell_peer: --listen or --connect required\n" unless $o->{connect};
    lab_summary($o->{summary}, \%S);
    $cs = lab_connect($o->{connect}, $o->{'connect-timeout'});
}

my ($sess, @queue, $cur, $last);
sub start_session {
    my ($s) = @_;
    $sess = { peer => $s->peerhost . ':' . $s->peerport, local => $s->sockhost . ':' . $s->sockport,
              opened_at => lab_ts(), banner => '', commands => [] };
    push @{ $S{sessions} }, $sess;
    @queue = split /\|/, $o->{cmds};
    $cur = undef;
    $last = time;
    $sel->add($s);
    lab_summary($o->{summary}, \%S);
}
start_session($cs) if $cs;

while (1) {
    for my $s ($sel->can_read(0.2)) {
        if ($ls && $s == $ls) {
            my $n = $ls->accept or next;
            if ($cs) { close $n; next; }    # one shell at a time
            $cs = $n;
            start_session($cs);
            next;
        }
        my $n = sysread($s, my $d, 65536);
        if (!$n) {
            $sel->remove($s);
            close $s;
            $sess->{closed_at} = lab_ts();
            $cs = undef;
            lab_summary($o->{summary}, \%S);
            next;
        }
        if ($cur) { $cur->{output} .= $d; } else { $sess->{banner} .= $d; }
        $last = time;
        lab_summary($o->{summary}, \%S);
    }
    if ($cs && !$sess->{commands_done} && time - $last > 0.8) {
        my $cmd = shift @queue;
        if (defined $cmd) {
            $cur = { cmd => $cmd, sent_at => lab_ts(), output => '' };
            push @{ $sess->{commands} }, $cur;
            syswrite($cs, "$cmd\n");
            $last = time;
        } else {
            $sess->{commands_done} = JSON::PP::true;
        }
        lab_summary($o->{summary}, \%S);
    }
}
