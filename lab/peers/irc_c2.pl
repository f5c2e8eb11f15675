#!/usr/bin/perl
# Fake IRC C2 server (host side, 127.x only) for the ircbot scenario.
#   irc_c2.pl --listen 127.a.b.c:PORT --summary FILE --cmds1 'id|uname -a' --cmds2 'ls -la /tmp'
#             [--drop-first 1]
# Registers the bot (NICK/USER -> 001), answers JOIN, then sends `!exec CMD` as PRIVMSGs to
# the channel, one command at a time (the next one after 0.8 s without output). With
# --drop-first 1 it closes the first session once its commands are answered, so the bot
# must reconnect; the second session gets --cmds2 and stays open.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;
use Time::HiRes qw(time);

my $o = lab_args(\@ARGV, { listen => undef, summary => undef, cmds1 => 'id', cmds2 => 'id',
                           'drop-first' => 0, server => 'irc.c2.lab' });
die "irc_c2: --listen required\n" unless $o->{listen};
my $ls = lab_listen($o->{listen});
my $sel = IO::Select->new($ls);
my %S = (listen => $o->{listen}, server_name => $o->{server}, sessions => [], ready => JSON::PP::true);
my %conn;    # fileno => {sock, buf, sess, queue, current, last_out}
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

sub out {
    my ($c, $line) = @_;
    syswrite($c->{sock}, "$line\r\n");
    push @{ $c->{sess}{transcript} }, { t => lab_ts(), dir => 'c2->bot', line => $line };
}

sub next_cmd {
    my ($c) = @_;
    my $cmd = shift @{ $c->{queue} };
    return 0 unless defined $cmd;
    my $e = { cmd => $cmd, sent_at => lab_ts(), output => [] };
    push @{ $c->{sess}{commands} }, $e;
    $c->{current} = $e;
    $c->{last_out} = time;
    out($c, ":op!op\@$o->{server} PRIVMSG $c->{sess}{channel} :!exec $cmd");
    return 1;
}

sub close_conn {
    my ($c, $by) = @_;
    $sel->remove($c->{sock});
    delete $conn{ fileno($c->{sock}) };
    close $c->{sock};
    $c->{sess}{closed_at} = lab_ts();
    $c->{sess}{closed_by} = $by;
}

while (1) {
    for my $s ($sel->can_read(0.2)) {
        if ($s == $ls) {
            my $cs = $ls->accept or next;
            my $n = @{ $S{sessions} } + 1;
            my $sess = { n => $n, peer => $cs->peerhost . ':' . $cs->peerport, opened_at => lab_ts(),
                         commands => [], transcript => [], registered => JSON::PP::false };
            push @{ $S{sessions} }, $sess;
            my @q = split /\|/, ($n == 1 ? $o->{cmds1} : $o->{cmds2});
            $conn{ fileno($cs) } = { sock => $cs, buf => '', sess => $sess, queue => \@q };
            $sel->add($cs);
            next;
        }
        my $c = $conn{ fileno($s) } or next;
        my $n = sysread($s, my $d, 65536);
        if (!$n) { close_conn($c, 'bot'); next; }
        $c->{buf} .= $d;
        while ($c->{buf} =~ s/^([^\n]*)\n//) {
            my $line = $1;
            $line =~ s/\r$//;
            my $sess = $c->{sess};
            push @{ $sess->{transcript} }, { t => lab_ts(), dir => 'bot->c2', line => $line };
            if ($line =~ /^NICK\s+(\S+)/) { $sess->{nick} = $1; }
            elsif ($line =~ /^USER\s+(\S+)\s+(\S+)\s+(\S+)\s+:(.*)$/) {
                $sess->{user} = $1; $sess->{realname} = $4;
            }
            elsif ($line =~ /^PING\s+:?(.*)$/) { out($c, "PONG :$1"); }
            elsif ($line =~ /^JOIN\s+(\S+)(?:\s+(\S+))?/) {
                $sess->{channel} = $1;
                $sess->{channel_key} = $2 if defined $2;
                $sess->{joined_at} = lab_ts();
                out($c, ":$sess->{nick}!$sess->{user}\@bot JOIN :$1");
                next_cmd($c);
            }
            elsif ($line =~ /^PRIVMSG\s+(\S+)\s+:(.*)$/) {
                push @{ $c->{current}{output} }, $2 if $c->{current};
                push @{ $sess->{other_privmsg} }, $2 unless $c->{current};
                $c->{last_out} = time;
            }
            if (!$sess->{registered} && $sess->{nick} && $sess->{user}) {
                $sess->{registered} = JSON::PP::true;
                out($c, ":$o->{server} 001 $sess->{nick} :Welcome to the lab IRC network");
                out($c, ":$o->{server} 376 $sess->{nick} :End of /MOTD command.");
            }
        }
        lab_summary($o->{summary}, \%S);
    }
    # timers: next command after 0.8 s of quiet; drop the first session when it is done
    for my $c (values %conn) {
        next unless $c->{current} && time - $c->{last_out} > 0.8;
        next if $c->{sess}{commands_done};
        next if next_cmd($c);
        $c->{sess}{commands_done} = JSON::PP::true;
        $c->{current} = undef;
        if ($o->{'drop-first'} && $c->{sess}{n} == 1) {
            out($c, "ERROR :Closing Link: (lab C2 going away)");
            close_conn($c, 'c2');
        }
        lab_summary($o->{summary}, \%S);
    }
}
