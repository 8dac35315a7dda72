#!/usr/bin/env node
console.log('hookwise 0.1.0')
