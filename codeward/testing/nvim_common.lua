-- Shared by the headless Neovim drivers: set codeward up from the environment, open the file, wait for the client,
-- and write what a driver recorded as JSON however it ended.
-- Environment: CODEWARD_NVIM_CMD (JSON list), CODEWARD_NVIM_OPTIONS (JSON), CODEWARD_NVIM_SETUP (the setup file),
-- CODEWARD_NVIM_FILE (the Python file to open), CODEWARD_NVIM_OUT (where to write the JSON).
local M = {}

-- Sets codeward up as editors/nvim/codeward.lua does (`before_edit` runs just before the file is opened), opens the
-- file and waits up to `timeout_ms` for the codeward client; records the filetype and the client's offset encoding
-- in `out` (or `out.error` when it never attached) and returns the buffer and the client (nil if none).
function M.open_attached(out, timeout_ms, before_edit)
  vim.cmd('filetype on')
  vim.g.codeward_cmd = vim.json.decode(os.getenv('CODEWARD_NVIM_CMD'))
  vim.g.codeward_init_options = vim.json.decode(os.getenv('CODEWARD_NVIM_OPTIONS'))
  dofile(os.getenv('CODEWARD_NVIM_SETUP'))
  if before_edit then
    before_edit()
  end
  vim.cmd.edit(os.getenv('CODEWARD_NVIM_FILE'))
  local buf = vim.api.nvim_get_current_buf()
  out.filetype = vim.bo[buf].filetype
  local client
  vim.wait(timeout_ms, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'codeward' })[1]
    return client ~= nil and client.initialized
  end, 50)
  if client then
    out.offset_encoding = client.offset_encoding
  else
    out.error = 'the codeward client never attached'
  end
  return buf, client
end

-- Runs `body` (protected), records its error in `out`, writes `out` to CODEWARD_NVIM_OUT and quits Neovim.
function M.run(out, body)
  local ok, err = pcall(body)
  if not ok then
    out.error = tostring(err)
  end
  vim.fn.writefile({ vim.json.encode(out) }, os.getenv('CODEWARD_NVIM_OUT'))
  vim.cmd('qa!')
end

return M
