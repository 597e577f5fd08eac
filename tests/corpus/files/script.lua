#!/usr/bin/env lua
local t = {1, 2, 3}
for i, v in ipairs(t) do print(i, v) end
