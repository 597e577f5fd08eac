#include <stdio.h>
#include <stdlib.h>

/* a C program */
struct point { int x, y; };

static int add(int a, int b)
{
    return a + b;
}

int main(void)
{
    struct point p = {1, 2};
    printf("%d\n", add(p.x, p.y));
    return 0;
}
