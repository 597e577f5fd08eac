#ifndef HEADER_H
#define HEADER_H

typedef struct { int a; } thing;
extern int f(thing *);

#endif
