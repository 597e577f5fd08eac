#!/usr/bin/env node
'use strict';
const xs = [1, 2, 3];
console.log(xs.map((x) => x * 2));
