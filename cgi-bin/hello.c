// hello.c: a CGI program in C, as the first ones were (NCSA httpd's cgi-src, 1993).
// scripts/build-c.js compiles it to hello.cgi during install. Starting a small binary is about
// as cheap as a process per request gets: compare it with the interpreters.
#include <stdio.h>

int main(void) {
  printf("Content-Type: text/plain\r\n\r\n");
  printf("Hello, world from C\n");
  return 0;
}
