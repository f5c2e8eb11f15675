#!/usr/bin/perl
# kcsi lab specimen (benign): a documentation portal. Loads every article under DOCS_DIR into
# memory (a tiny full-text index) and serves GET /docs/NAME and GET /search?q=WORDS on LISTEN
# (127.x) with HTTP/1.1 keep-alive, logging requests to /var/log/docs/access.log.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(strftime);
use File::Path qw(make_path);

my $dir = $ENV{DOCS_DIR} // '/srv/docs';
my %doc;
opendir(my $dh, $dir) or die "docsd: $dir: $!\n";
for my $f (sort grep { -f "$dir/$_" } readdir $dh) {
    open(my $fh, '<', "$dir/$f") or next;
    local $/;
    $doc{$f} = <$fh>;
}
closedir $dh;
my %index;
for my $name (keys %doc) { $index{ lc $1 }{$name} = 1 while $doc{$name} =~ /(\w+)/g; }

my ($addr, $port) = split /:/, $ENV{LISTEN};
my $srv = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port, Listen => 16, ReuseAddr => 1)
    or die "docsd: listen: $!\n";
make_path('/var/log/docs');
open(my $log, '>>', '/var/log/docs/access.log') or die "docsd: log: $!\n";
$log->autoflush(1);
my $sel = IO::Select->new($srv);
my %buf;

sub answer {
    my ($c, $path) = @_;
    my ($code, $body) = (200, '');
    if ($path =~ m{^/docs/([\w.-]+)$} && exists $doc{$1}) { $body = $doc{$1}; }
    elsif ($path =~ m{^/search\?q=([\w+%-]*)$}) {
        my @w = map { lc } grep { length } split /\+|%20/, $1;
        my %hit = map { $_ => 1 } keys %doc;
        for my $w (@w) { %hit = map { $_ => 1 } grep { $index{$w}{$_} } keys %hit; }
        $body = join("\n", sort keys %hit) . "\n";
    } else { ($code, $body) = (404, "not found\n"); }
    syswrite($c, "HTTP/1.1 $code " . ($code == 200 ? 'OK' : 'Not Found') . "\r\nContent-Type: text/plain; charset=utf-8\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n$body");
    printf $log "%s [%s] \"GET %s\" %d %d\n", $c->peerhost, strftime('%d/%b/%Y:%H:%M:%S +0000', gmtime), $path, $code, length $body;
}

while (1) {
    for my $s ($sel->can_read) {
        if ($s == $srv) { my $c = $srv->accept; $sel->add($c) if $c; next; }
        my $n = sysread($s, my $d, 8192);
        if (!$n) { $sel->remove($s); delete $buf{ fileno($s) // -1 }; close $s; next; }
        $buf{ fileno $s } .= $d;
        answer($s, $1) while $buf{ fileno $s } =~ s/^GET (\S+) HTTP\/1\.[01]\r\n.*?\r\n\r\n//s;
    }
}
