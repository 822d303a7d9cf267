-- Shared by the headless Neovim drivers: set codeward up from the environment, open the file, wait for the client.
-- Environment: CODEWARD_NVIM_CMD (JSON list), CODEWARD_NVIM_OPTIONS (JSON), CODEWARD_NVIM_SETUP (the setup file),
-- CODEWARD_NVIM_FILE (the Python file to open).
local M = {}

-- Sets codeward up as editors/nvim/codeward.lua does, opens the file and waits up to `timeout_ms` for the codeward
-- client to attach; returns the buffer and the client (nil when it never attached).
function M.open_attached(timeout_ms, before_edit)
  vim.cmd('filetype on')
  vim.g.codeward_cmd = vim.json.decode(os.getenv('CODEWARD_NVIM_CMD'))
  vim.g.codeward_init_options = vim.json.decode(os.getenv('CODEWARD_NVIM_OPTIONS'))
  dofile(os.getenv('CODEWARD_NVIM_SETUP'))
  if before_edit then
    before_edit()
  end
  vim.cmd.edit(os.getenv('CODEWARD_NVIM_FILE'))
  local buf = vim.api.nvim_get_current_buf()
  local client
  vim.wait(timeout_ms, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = 'codeward' })[1]
    return client ~= nil and client.initialized
  end, 50)
  return buf, client
end

return M
