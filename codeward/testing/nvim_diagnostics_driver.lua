-- Drives headless Neovim against `codeward serve` through editors/nvim/codeward.lua to exercise codeward's context
-- diagnostics as a user would: open a file with a planted bug, wait for the diagnostic, look at it (:clist, the
-- virtual text, the float, the screen), open the code-action menu (vim.lsp.buf.code_action) and pick "Why is this
-- flagged?", then "Ignore here", and wait until the diagnostic is gone. Writes what it saw as JSON.
-- Environment: CODEWARD_NVIM_CMD (JSON list), CODEWARD_NVIM_OPTIONS (JSON), CODEWARD_NVIM_SETUP (the setup file),
-- CODEWARD_NVIM_FILE (the Python file to open), CODEWARD_NVIM_OUT (where to write the JSON),
-- CODEWARD_NVIM_TIMEOUT_MS (how long each wait may take; default 120000).
local COMMON = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))
local out = { menus = {}, show_message = {}, notified = {} }
local TIMEOUT = tonumber(os.getenv('CODEWARD_NVIM_TIMEOUT_MS') or '') or 120000

-- What the editor shows: every window/showMessage the client handles, and every vim.notify (which it turns into).
local show = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, params, ctx, config)
  table.insert(out.show_message, params)
  return show(err, params, ctx, config)
end
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(out.notified, { message = msg, level = level })
  return notify(msg, level, opts)
end

-- The code-action menu: record what it lists (its own prompt and format_item), and pick the entry `pick` names.
local pick
vim.ui.select = function(items, opts, on_choice)
  local shown = {}
  for i, item in ipairs(items) do
    shown[i] = opts.format_item and opts.format_item(item) or tostring(item)
  end
  table.insert(out.menus, { prompt = opts.prompt, items = shown })
  for i, text in ipairs(shown) do
    if pick and vim.startswith(text, pick) then
      return on_choice(items[i], i)
    end
  end
  return on_choice(nil, nil)
end

local function screen()
  vim.cmd('redraw!')
  local rows = {}
  for r = 1, vim.o.lines do
    local cells = {}
    for c = 1, vim.o.columns do
      cells[c] = vim.fn.screenstring(r, c)
    end
    rows[r] = (table.concat(cells):gsub('%s+$', ''))
  end
  return rows
end

COMMON.run(out, function()
  local buf, client = COMMON.open_attached(out, TIMEOUT, function()
    vim.diagnostic.config({ virtual_text = true, signs = true, underline = true }) -- virtual text is off by default
  end)
  out.file = vim.api.nvim_buf_get_name(buf)
  if not client then
    return
  end
  out.code_action_provider = client.server_capabilities.codeActionProvider
  out.execute_commands = (client.server_capabilities.executeCommandProvider or {}).commands
  local ns = vim.lsp.diagnostic.get_namespace(client.id, false)
  local function codeward()
    return vim.tbl_filter(function(d)
      return d.source == 'codeward'
    end, vim.diagnostic.get(buf, { namespace = ns }))
  end

  -- 1. The diagnostic, published after the pause that follows opening the file.
  out.diagnostics_appeared = vim.wait(TIMEOUT, function()
    return #codeward() > 0
  end, 50)
  if not out.diagnostics_appeared then
    out.error = 'no codeward diagnostic arrived'
    return
  end
  out.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(out.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col, severity = d.severity,
      severity_name = vim.diagnostic.severity[d.severity], source = d.source, code = d.code, message = d.message,
      namespace = vim.diagnostic.get_namespace(d.namespace).name, lsp = d.user_data and d.user_data.lsp,
    })
  end

  -- 2. How Neovim shows it: the quickfix list (:clist), the virtual text, the float (<C-w>d), the screen.
  vim.diagnostic.setqflist({ namespace = ns, open = false })
  out.clist = vim.fn.execute('clist')
  local first = codeward()[1]
  out.virtual_text = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(buf, -1, 0, -1, { details = true })) do
    local details = mark[4]
    if details.virt_text then
      local chunks = {}
      for _, chunk in ipairs(details.virt_text) do
        table.insert(chunks, chunk[1])
      end
      table.insert(out.virtual_text, { lnum = mark[2], text = table.concat(chunks) })
    end
  end
  vim.api.nvim_win_set_cursor(0, { first.lnum + 1, first.col })
  out.screen = screen() -- headless Neovim's grid: 80 x 24, as a default terminal
  local float_buf, float_win = vim.diagnostic.open_float({ scope = 'line' })
  out.float = float_buf and vim.api.nvim_buf_get_lines(float_buf, 0, -1, false) or {}
  if float_win then
    vim.api.nvim_win_close(float_win, true)
  end

  -- 3. The code actions for it: the request itself, with the diagnostic in its context ...
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.range = first.user_data.lsp.range
  params.context = { diagnostics = { first.user_data.lsp }, triggerKind = 1 }
  local response = client:request_sync('textDocument/codeAction', params, TIMEOUT, buf)
  out.code_actions = response and (response.result or response.err)

  -- ... and the editor's code-action menu on the line: "Why is this flagged?" shows the explanation.
  pick = 'Why is this flagged?'
  local asked = #out.show_message
  vim.lsp.buf.code_action()
  out.why_shown = vim.wait(TIMEOUT, function()
    return #out.show_message > asked
  end, 50)
  out.why = out.show_message[#out.show_message]
  out.messages = vim.fn.execute('messages')

  -- 4. "Ignore here": the edit adds `# nosec RULE`; the diagnostic goes away after the next pause.
  local row = first.lnum
  local before = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  out.line_before_ignore = before
  pick = 'Ignore '
  vim.lsp.buf.code_action()
  out.edited = vim.wait(TIMEOUT, function()
    return vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1] ~= before
  end, 50)
  out.line_after_ignore = vim.api.nvim_buf_get_lines(buf, row, row + 1, true)[1]
  out.modified = vim.bo[buf].modified
  out.cleared = vim.wait(TIMEOUT, function()
    return #codeward() == 0
  end, 50)
  out.diagnostics_after_ignore = #codeward()
  out.screen_after_ignore = screen()
  local s = client:request_sync('codeward/stats', {}, TIMEOUT, buf)
  out.stats = s and s.result
end)
