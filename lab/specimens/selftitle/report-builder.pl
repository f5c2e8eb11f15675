#!/usr/bin/perl
# kcsi lab specimen: a benign Perl worker that names itself after its own job, with its status,
# the usual way ($0): '@@NAME@@: idle (N reports)'. It builds a small report every second.
use strict;
use warnings;
my $n = 0;
while (1) {
    $0 = "@@NAME@@: idle ($n reports)";
    my %count;
    $count{ $_ % 7 }++ for 1 .. 500;
    $n++;
    select(undef, undef, undef, 1);
}
