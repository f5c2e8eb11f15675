#!/usr/bin/perl
# Benign SMTP relay (host side, 127.x only) for the maillog control: accepts SMTP sessions,
# answers EHLO/HELO, MAIL, RCPT, DATA (queues the message), RSET, NOOP and QUIT, and records
# counts and the first recipients.
#   smtp_relay.pl --listen 127.a.b.c:25 --summary FILE [--name HOSTNAME]
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use IO::Select;

my $o = lab_args(\@ARGV, { listen => undef, summary => undef, name => 'relay.internal' });
die "smtp_relay: --listen required\n" unless $o->{listen};
my $ls = lab_listen($o->{listen});
my $sel = IO::Select->new($ls);
my %S = (listen => $o->{listen}, sessions => 0, messages => 0, recipients => 0, first_rcpts => [],
         ready => JSON::PP::true);
my %conn;
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

my $last = 0;
while (1) {
    for my $s ($sel->can_read(0.5)) {
        if ($s == $ls) {
            my $c = $ls->accept or next;
            $conn{ fileno $c } = { sock => $c, buf => '', data => 0 };
            $sel->add($c);
            $S{sessions}++;
            syswrite($c, "220 $o->{name} ESMTP ready\r\n");
            next;
        }
        my $c = $conn{ fileno $s } or next;
        my $n = sysread($s, my $d, 65536);
        if (!$n) { $sel->remove($s); delete $conn{ fileno $s }; close $s; next; }
        $c->{buf} .= $d;
        while ($c->{buf} =~ s/^([^\n]*)\n//) {
            my $l = $1;
            $l =~ s/\r$//;
            if ($c->{data}) {
                next unless $l eq '.';
                $c->{data} = 0;
                $S{messages}++;
                syswrite($s, "250 2.0.0 Ok: queued as " . sprintf('%X', $S{messages} * 7919) . "\r\n");
            } elsif ($l =~ /^(EHLO|HELO)\b/i) {
                syswrite($s, "250-$o->{name}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n");
            } elsif ($l =~ /^RCPT TO:\s*<([^>]*)>/i) {
                $S{recipients}++;
                push @{ $S{first_rcpts} }, $1 if @{ $S{first_rcpts} } < 5;
                syswrite($s, "250 2.1.5 Ok\r\n");
            } elsif ($l =~ /^DATA/i) {
                $c->{data} = 1;
                syswrite($s, "354 End data with <CR><LF>.<CR><LF>\r\n");
            } elsif ($l =~ /^QUIT/i) {
                syswrite($s, "221 2.0.0 Bye\r\n");
            } else {
                syswrite($s, "250 2.0.0 Ok\r\n");    # MAIL, RSET, NOOP
            }
        }
    }
    if (time - $last >= 1) { lab_summary($o->{summary}, \%S); $last = time; }
}
