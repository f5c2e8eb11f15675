#!/usr/bin/perl
# kcsi lab specimen: a benign Perl worker that names itself after its own job, with its status,
# the usual way ($0): '@@NAME@@: idle (ready)'. It builds a small report every second (the title
# stays put, so that the process list does not change while the scene is checkpointed).
use strict;
use warnings;
my $n = 0;
$0 = "@@NAME@@: idle (ready)";
while (1) {
    my %count;
    $count{ $_ % 7 }++ for 1 .. 500;
    $n++;
    select(undef, undef, undef, 1);
}
