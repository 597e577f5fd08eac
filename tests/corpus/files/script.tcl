#!/usr/bin/tclsh
set x 1
puts "x is $x"
