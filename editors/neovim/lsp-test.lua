-- A real client against `nplc lsp`: Neovim's built-in LSP client (0.7 or
-- later), headless. Run by scripts/editor-tests:
--
--   NPLC=/path/to/nplc WORK=/tmp/dir nvim --headless --clean -n -c "luafile editors/neovim/lsp-test.lua"
--
-- WORK holds a copy of examples/payments. The test opens payments.npl,
-- waits for the diagnostics of the clean file (none), types an unknown
-- name, waits for the diagnostic that says so (E0101, with its
-- did-you-mean), then asks for the definition of `api` and checks where
-- the cursor lands, then spoils the spacing of a line and formats the
-- file through the server. It exits 0 when every check holds, 1 otherwise.

local nplc = os.getenv("NPLC")
local work = os.getenv("WORK")

local function fail(msg)
  io.stderr:write("nvim-lsp-test: FAIL: " .. msg .. "\n")
  os.exit(1)
end

local function say(msg)
  io.stderr:write("nvim-lsp-test: " .. msg .. "\n")
end

if not nplc or not work then
  fail("set NPLC and WORK")
end

local published = 0
local handlers = {
  ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
    published = published + 1
    return vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
  end,
}

vim.cmd("edit " .. work .. "/payments.npl")
local buf = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({
  name = "nplc",
  cmd = { nplc, "lsp" },
  root_dir = work,
  handlers = handlers,
})
if not client then
  fail("the client did not start")
end
vim.lsp.buf_attach_client(buf, client)

-- 1. the clean example: an empty set of diagnostics
if not vim.wait(20000, function() return published >= 1 end, 50) then
  fail("no diagnostics published for the clean file")
end
if #vim.diagnostic.get(buf) ~= 0 then
  fail("the clean example has diagnostics: " .. vim.inspect(vim.diagnostic.get(buf)))
end
say("clean file: no diagnostics")

-- 2. an unknown name: `db` → `dbx` in `allow app=api -> db:5432`
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
local row
for i, l in ipairs(lines) do
  if l:find("-> db:5432", 1, true) then
    row = i
  end
end
if not row then
  fail("no `-> db:5432` line in payments.npl")
end
local edited = lines[row]:gsub("%-> db:5432", "-> dbx:5432")
vim.api.nvim_buf_set_lines(buf, row - 1, row, false, { edited })
local got
if not vim.wait(20000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
    if code == "E0101" then
      got = d
      return true
    end
  end
  return false
end, 50) then
  fail("no E0101 after the edit: " .. vim.inspect(vim.diagnostic.get(buf)))
end
if got.lnum ~= row - 1 then
  fail("E0101 on line " .. got.lnum .. ", expected " .. (row - 1))
end
if not got.message:find("unknown name `dbx`", 1, true) or not got.message:find("did you mean `db`", 1, true) then
  fail("unexpected message: " .. got.message)
end
say("edit: " .. got.message:gsub("\n", " | "))

-- 3. go to definition of `api` in `allow api -> world:443`
local arow, acol
for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
  local c = l:find("allow api -> world", 1, true)
  if c then
    arow, acol = i, c - 1 + #"allow "
  end
end
vim.api.nvim_win_set_cursor(0, { arow, acol + 1 })
vim.lsp.buf.definition()
local want
for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
  local c = l:find("workload api", 1, true)
  if c then
    want = { i, c - 1 + #"workload " }
  end
end
if not vim.wait(20000, function()
  local at = vim.api.nvim_win_get_cursor(0)
  return at[1] == want[1] and at[2] == want[2]
end, 50) then
  fail("definition: cursor at " .. vim.inspect(vim.api.nvim_win_get_cursor(0)) .. ", expected " .. vim.inspect(want))
end
say("definition of `api`: line " .. want[1] .. ", column " .. want[2])

-- 4. formatting: spaces added to `allow api -> world:443`, then the
-- server's formatting (`nplc fmt`) takes them out again
local frow
for i, l in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
  if l:find("allow api -> world:443", 1, true) then
    frow = i
  end
end
local tidy = vim.api.nvim_buf_get_lines(buf, frow - 1, frow, false)[1]
local messy = tidy:gsub("allow api %-> world:443", "allow   api   ->  world:443")
vim.api.nvim_buf_set_lines(buf, frow - 1, frow, false, { messy })
if vim.lsp.buf.format then
  vim.lsp.buf.format({ bufnr = buf, timeout_ms = 20000 })
else
  vim.lsp.buf.formatting_sync(nil, 20000)
end
local after = vim.api.nvim_buf_get_lines(buf, frow - 1, frow, false)[1]
if after ~= tidy then
  fail("formatting: line " .. frow .. " reads `" .. after .. "`, expected `" .. tidy .. "`")
end
say("formatting: `" .. messy .. "` became `" .. after .. "`")
say("ok")
vim.lsp.stop_client(client)
os.exit(0)
