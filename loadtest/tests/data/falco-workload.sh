#!/bin/bash
# The workload whose events the committed capture holds (run with a clean environment).
python3 -c 'import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 39123)); s.listen(1); c, _ = s.accept(); c.recv(100); c.close(); s.close()' &
server=$!
sleep 0.5
/bin/sleep 0.31
cat /etc/shadow > /dev/null
ls /tmp > /dev/null
bash -c 'echo child-of-bash > /dev/null; /bin/true'
bash -c 'exec 3<>/dev/tcp/127.0.0.1/39123; echo hello >&3; exec 3>&-'
wait $server
