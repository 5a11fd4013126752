<?php
// hello.php: PHP started life (1995) as a set of CGI binaries; here php-cgi runs it as one.
// php-cgi writes the header block itself; header() only changes it. The same file runs
// unchanged under php-cgi as a FastCGI application (or php-fpm): the mod_php-era PHP.
header('Content-Type: text/plain');
echo "Hello, world from PHP\n";
