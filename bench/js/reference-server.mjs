// The Node.js reference server: what a Node team would write on the npm `ws` package. Rooms are
// sets of sockets; a message is serialised once and sent to each socket of its room in a loop.
//
//   node reference-server.mjs <port>   -> prints "listening <port>" once it accepts connections
//
// Protocol (the load generator's `reference`): {"type":"join","room"} -> {"type":"joined","room"};
// {"type":"send","room","body"} -> {"type":"message","room","body"} to every member, sender too.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 0);
const rooms = new Map();
const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });

server.on('connection', (ws) => {
  const joined = new Set();
  ws.on('message', (data) => {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === 'join' && typeof frame.room === 'string') {
      let members = rooms.get(frame.room);
      if (!members) rooms.set(frame.room, (members = new Set()));
      members.add(ws);
      joined.add(frame.room);
      ws.send(JSON.stringify({ type: 'joined', room: frame.room }));
    } else if (frame.type === 'send' && joined.has(frame.room)) {
      const out = JSON.stringify({ type: 'message', room: frame.room, body: frame.body });
      for (const member of rooms.get(frame.room)) member.send(out);
    }
  });
  ws.on('close', () => {
    for (const room of joined) {
      const members = rooms.get(room);
      members.delete(ws);
      if (members.size === 0) rooms.delete(room);
    }
  });
});

server.on('listening', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
