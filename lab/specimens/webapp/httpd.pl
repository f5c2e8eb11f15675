#!/usr/bin/perl
# kcsi lab specimen (benign): a small HTTP/1.1 server with keep-alive, serving files from
# /srv/www and /healthz, logging requests to /var/log/webapp/access.log.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(strftime);

my ($addr, $port) = split /:/, ($ENV{LISTEN} // '127.0.0.1:8080');
my $root = $ENV{DOCROOT} // '/srv/www';
my $srv = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Listen => 32, ReuseAddr => 1)
    or die "httpd: listen $addr:$port: $!\n";
open(my $log, '>>', '/var/log/webapp/access.log') or die "httpd: log: $!\n";
$log->autoflush(1);
my $sel = IO::Select->new($srv);
my %buf;
my $served = 0;

sub respond {
    my ($c, $path) = @_;
    my ($code, $type, $body) = (200, 'text/html; charset=utf-8', '');
    if ($path eq '/healthz') { ($type, $body) = ('application/json', qq({"status":"ok","served":$served}\n)); }
    else {
        $path = '/index.html' if $path eq '/';
        $path =~ s/\.\.//g;
        if (open(my $f, '<', "$root$path")) { local $/; $body = <$f>; close $f; }
        else { ($code, $type, $body) = (404, 'text/plain', "not found\n"); }
    }
    $served++;
    syswrite($c, "HTTP/1.1 $code " . ($code == 200 ? 'OK' : 'Not Found') . "\r\nContent-Type: $type\r\n"
               . "Content-Length: " . length($body) . "\r\nConnection: keep-alive\r\n\r\n$body");
    printf $log "%s - - [%s] \"GET %s HTTP/1.1\" %d %d\n", $c->peerhost, strftime('%d/%b/%Y:%H:%M:%S +0000', gmtime),
        $path, $code, length($body);
}

while (1) {
    for my $s ($sel->can_read) {
        if ($s == $srv) { my $c = $srv->accept; $sel->add($c) if $c; next; }
        my $n = sysread($s, my $d, 8192);
        if (!$n) { $sel->remove($s); delete $buf{ fileno($s) // -1 }; close $s; next; }
        $buf{ fileno($s) } .= $d;
        while ($buf{ fileno($s) } =~ s/^(GET|HEAD) (\S+) HTTP\/1\.[01]\r\n.*?\r\n\r\n//s) { respond($s, $2); }
    }
}
