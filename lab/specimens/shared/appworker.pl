#!/usr/bin/perl
# kcsi lab specimen: a benign workload in Perl (for the perl-only image): every second it
# writes one line to the log named by APP_LOG (default /var/log/app/worker.log).
use strict;
use warnings;
use POSIX qw(strftime);
use File::Path qw(make_path);

my $logf = $ENV{APP_LOG} // '/var/log/app/worker.log';
(my $dir = $logf) =~ s{/[^/]*$}{};
make_path($dir);
open(my $log, '>>', $logf) or die "log: $!\n";
$log->autoflush(1);
my $n = 0;
while (1) {
    $n++;
    print $log strftime('%Y-%m-%dT%H:%M:%SZ', gmtime) . " " . ($ENV{APP_NAME} // 'worker') . ": processed job $n\n";
    sleep 1;
}
