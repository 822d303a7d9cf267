-- Drives headless Neovim against `codeward serve` through editors/nvim/codeward.lua; writes what it saw as JSON.
-- Environment: CODEWARD_NVIM_CMD (JSON list), CODEWARD_NVIM_OPTIONS (JSON), CODEWARD_NVIM_SETUP (the setup file),
-- CODEWARD_NVIM_FILE (the Python file to open), CODEWARD_NVIM_OUT (where to write the JSON).
local COMMON = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))
local out = {}

COMMON.run(out, function()
  local buf, client = COMMON.open_attached(out, 60000)
  out.has_inline_completion = vim.lsp.inline_completion ~= nil
  if not client then
    return
  end
  out.inline_provider = client.server_capabilities.inlineCompletionProvider
  out.supports_inline = client:supports_method('textDocument/inlineCompletion', buf)

  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, true)[1]
  vim.o.virtualedit = 'onemore' -- lets the (normal-mode) cursor sit after the line's end, as in insert mode
  vim.api.nvim_win_set_cursor(0, { last, #line })
  out.cursor_line = line
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  out.position = params.position
  params.context = { triggerKind = 1 }
  local inline = client:request_sync('textDocument/inlineCompletion', params, 120000, buf)
  out.inline = inline and (inline.result or inline.err)
  local completion = client:request_sync('textDocument/completion', params, 120000, buf)
  out.completion = completion and (completion.result or completion.err)

  -- The editor's own inline-completion flow: the automatic request on InsertEnter, then accept with get().
  vim.api.nvim_exec_autocmds('InsertEnter', { buffer = buf })
  out.got = vim.wait(30000, function()
    return vim.lsp.inline_completion.get({ bufnr = buf })
  end, 100)
  vim.wait(10000, function()
    return vim.api.nvim_buf_get_lines(buf, last - 1, last, true)[1] ~= line
  end, 50)
  out.line_after_accept = vim.api.nvim_buf_get_lines(buf, last - 1, last, true)[1]
  vim.wait(10000, function()
    local s = client:request_sync('codeward/stats', {}, 5000, buf)
    out.stats = s and s.result
    return out.stats and out.stats.accepted >= 1
  end, 200)
end)
