-- run by args.lua through arg[-1]
print("echo", ...)
