-- Every name in COMMANDS (00_prelude) returns from its block above; reaching
-- this line means the list and the blocks disagree.
error('Unknown command ' .. cmd)
