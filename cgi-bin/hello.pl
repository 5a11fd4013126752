#!/usr/bin/perl
# hello.pl: a CGI program in Perl, the language most of the early web's cgi-bin was written in
# (Matt's Script Archive, CGI.pm). Each request starts a fresh perl: compile, run, exit, which
# is the cost mod_perl (1996) was built to remove.
use strict;
use warnings;

print "Content-Type: text/plain\r\n\r\n";
print "Hello, world from Perl\n";
