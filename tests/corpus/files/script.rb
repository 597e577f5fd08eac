#!/usr/bin/env ruby
class Greeter
  def hi
    puts 'hi'
  end
end
Greeter.new.hi
