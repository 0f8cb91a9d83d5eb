"""The SMTP dialogue as pure code: reply parsing, EHLO capabilities, the client's side of the
conversation. No sockets here (the h11 pattern): the probe feeds bytes in and sends bytes out."""
