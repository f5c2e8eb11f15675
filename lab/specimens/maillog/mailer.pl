#!/usr/bin/perl
# kcsi lab specimen (benign): a newsletter sender. Loads the recipients (CSV, e-mail in the 4th
# column) named by RECIPIENTS into memory, keeps one SMTP session to the relay SMTP_RELAY
# (127.x) and sends each recipient the campaign (links to the shop), RATE messages a second,
# logging each delivery to /var/log/mailer/delivery.log; starts over when the list is done.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(strftime);

my $domain = $ENV{MAIL_DOMAIN} // 'example.com';
my $rate = $ENV{RATE} // 40;
my @rcpt;
open(my $in, '<', $ENV{RECIPIENTS}) or die "mailer: recipients: $!\n";
while (<$in>) { my @f = split /,/; push @rcpt, $f[3] if defined $f[3] && $f[3] =~ /\@/; }
close $in;
open(my $log, '>>', '/var/log/mailer/delivery.log') or die "mailer: log: $!\n";
$log->autoflush(1);
my @campaigns = qw(winter-sale order-shipped weekly-digest back-in-stock);

sub smtp {
    my ($s, $line) = @_;
    print $s "$line\r\n" if defined $line;
    my $r;
    do { $r = <$s> } while (defined $r && $r =~ /^\d{3}-/);
    return $r // '';
}

my $s;
my $n = 0;
while (1) {
    for my $to (@rcpt) {
        if (!$s) {
            $s = IO::Socket::INET->new(PeerAddr => $ENV{SMTP_RELAY}, Proto => 'tcp', Timeout => 10) or do { sleep 2; next };
            smtp($s);
            smtp($s, "EHLO mailer.$domain");
        }
        my $c = $campaigns[$n++ % @campaigns];
        my $id = sprintf('%d.%06d', time, $n);
        smtp($s, "MAIL FROM:<news\@$domain>");
        smtp($s, "RCPT TO:<$to>");
        smtp($s, 'DATA');
        my $r = smtp($s, "From: News <news\@$domain>\r\nTo: <$to>\r\nSubject: $c\r\nMessage-ID: <$id\@mail.$domain>\r\n\r\n"
                         . "Hello,\r\n\r\nsee what is new: https://www.$domain/$c?utm_source=newsletter&utm_campaign=$c\r\n"
                         . "Unsubscribe: https://www.$domain/account/unsubscribe?m=$id\r\n.");
        my $st = $r =~ /^250/ ? 'sent' : 'deferred';
        print $log strftime('%Y-%m-%dT%H:%M:%SZ', gmtime) . " INFO delivery campaign=$c to=<$to> from=<news\@$domain> "
                 . "msgid=<$id\@mail.$domain> status=$st relay=$ENV{SMTP_RELAY} track=https://click.$domain/c/$c\n";
        if (!$r) { close $s; $s = undef; }
        smtp($s, 'RSET') if $s;
        select(undef, undef, undef, 1 / $rate);
    }
}
