// hello-fcgi.c: the canonical FastCGI responder, written against Open Market's libfcgi (1996).
// fcgi_stdio.h swaps stdio for FastCGI streams, so a CGI program becomes a loop: one process
// answers request after request, and `count` survives between them. Started as a plain CGI
// program, FCGI_Accept() sees no FastCGI socket on fd 0 and the loop runs exactly once.
// scripts/build-c.js compiles it to hello-fcgi.cgi, reading these two lines:
// requires: fcgi_stdio.h (libfcgi-dev)
// build: -lfcgi
#include "fcgi_stdio.h"
#include <unistd.h>

int main(void) {
  int count = 0;
  while (FCGI_Accept() >= 0) {
    count++;
    printf("Content-Type: text/plain\r\n\r\n");
    printf("Hello, world from a libfcgi C program\n");
    printf("request %d in process %d\n", count, (int)getpid());
  }
  return 0;
}
