#!/usr/bin/perl
# Benign HTTP client (host side, 127.x only): a metrics scraper or crawler. Keeps one
# keep-alive connection to --connect and GETs the --paths in turn (separated by |), one every
# --interval seconds, recording the status and size of each answer.
#   scraper.pl --connect 127.a.b.c:PORT --paths '/metrics' --interval 1 --summary FILE [--agent UA]
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LabPeer;
use Time::HiRes qw(sleep);

my $o = lab_args(\@ARGV, { connect => undef, paths => '/', interval => 1, summary => undef,
                           agent => 'Prometheus/2.45.3', 'connect-timeout' => 30 });
die "scraper: --connect required\n" unless $o->{connect};
my @paths = split /\|/, $o->{paths};
my %S = (connect => $o->{connect}, agent => $o->{agent}, requests => 0, connections => 0, last => undef,
         statuses => {});
$SIG{TERM} = sub { $S{stopped_at} = lab_ts(); lab_summary($o->{summary}, \%S); exit 0; };
lab_summary($o->{summary}, \%S);

my ($s, $i) = (undef, 0);
while (1) {
    if (!$s) {
        $s = lab_connect($o->{connect}, $o->{'connect-timeout'});
        $S{connections}++;
        $S{ready} = JSON::PP::true;
    }
    my $path = $paths[$i++ % @paths];
    syswrite($s, "GET $path HTTP/1.1\r\nHost: $o->{connect}\r\nUser-Agent: $o->{agent}\r\nAccept: */*\r\n\r\n");
    my ($head, $len, $status) = ('', 0, 0);
    while (defined(my $l = <$s>)) {
        $status = $1 if !$status && $l =~ m{^HTTP/1\.\d (\d+)};
        $len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
        last if $l eq "\r\n";
    }
    my $got = 0;
    while ($got < $len) { my $n = read($s, my $d, $len - $got) or last; $got += $n; }
    if (!$status) { close $s; $s = undef; sleep 1; next; }
    $S{requests}++;
    $S{statuses}{$status}++;
    $S{last} = { path => $path, status => $status + 0, bytes => $got, at => lab_ts() };
    lab_summary($o->{summary}, \%S);
    sleep($o->{interval});
}
