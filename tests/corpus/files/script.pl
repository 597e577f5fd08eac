#!/usr/bin/perl
use strict;
use warnings;
my @xs = (1, 2, 3);
print "$_\n" for @xs;
